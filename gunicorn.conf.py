"""gunicorn's settings for smsworks' web process. gunicorn reads this file from the
directory it starts in (`gunicorn smsworks.wsgi`, from the project's root), or with
`-c gunicorn.conf.py`; options on the command line override it. docs/production.md
explains each choice; bench/receipts.py measured them.

- Threaded workers, 8 threads each. Most of a request's life is spent waiting for the
  database, and a receipt webhook's thread waits for the INSERT that stores its
  receipt together with the others of that moment (messaging.group_insert): more
  threads, more receipts per statement, less CPU for each.
- One listening socket per worker (SO_REUSEPORT), so the kernel spreads new
  connections over the workers. With one shared socket, whichever worker was first
  in accept() took them all: a provider's or a proxy's kept-alive connections then
  all sat on one worker (one CPU, its GIL) while the others idled.
"""

import os

worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", os.cpu_count() or 1))
threads = int(os.environ.get("WEB_THREADS", 8))
reuse_port = True
timeout = 60
