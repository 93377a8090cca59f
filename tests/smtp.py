"""A small SMTP server on loopback that accepts every message and keeps it: the mail
server a test points EMAIL_HOST/EMAIL_PORT at to see what really went over the wire
(Django's SMTP backend, smtplib, a socket). Plain SMTP, no TLS, no authentication."""

import email
import email.policy
import socketserver
import threading
from dataclasses import dataclass


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: email.message.EmailMessage


class _Handler(socketserver.StreamRequestHandler):
    timeout = 10

    def say(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        sender, recipients = "", []
        self.say("220 localhost test SMTP")
        while line := self.rfile.readline():
            command = line.decode(errors="replace").strip()
            verb = command[:4].upper()
            if verb in ("EHLO", "HELO"):
                self.say("250 localhost")
            elif verb == "MAIL":
                sender, recipients = command.partition(":")[2].strip(" <>"), []
                self.say("250 OK")
            elif verb == "RCPT":
                recipients.append(command.partition(":")[2].strip(" <>"))
                self.say("250 OK")
            elif verb == "DATA":
                self.say("354 End data with <CR><LF>.<CR><LF>")
                data = b""
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    data += chunk[1:] if chunk.startswith(b"..") else chunk
                message = email.message_from_bytes(data, policy=email.policy.default)
                self.server.received.append(Received(sender, recipients, message))
                self.say("250 OK: queued")
            elif verb in ("RSET", "NOOP"):
                self.say("250 OK")
            elif verb == "QUIT":
                self.say("221 Bye")
                return
            else:
                self.say("502 Command not implemented")


class SMTPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.received: list[Received] = []
        self.port = self.server_address[1]
        threading.Thread(target=self.serve_forever, daemon=True, name="smtp").start()

    def __enter__(self) -> "SMTPServer":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()
        self.server_close()
