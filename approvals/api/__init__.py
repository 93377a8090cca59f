"""REST interface of approvals: `decisions` (approve, reject or request changes to a
draft), `plans` (approve or send back a task's plan before its draft), `audit` (the
decisions' trail and a task's timeline), `posts` (the workflow's actions on posts:
revert to a version), `comments` (editors' comments on passages of a draft, which
the task's owner reads). Their routes: approvals/urls.py."""
