"""Development tools: `make run`, `make test`, `make bench` and `make services`
(devtools.stack), and the process helpers that they, the tests and the benchmarks
share (devtools.processes). Nothing of the service imports this package, and the
image leaves it out (.dockerignore)."""
