"""REST interface of posts: the public list and posts, search, tags and categories,
and (for editors) versions. Each module lists its own routes in `urlpatterns`;
`routes` puts them all in order, the post router last, so a word like `search` is
never taken for a slug."""
