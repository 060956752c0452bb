"""moto's server mode, with DynamoDB requests serialised.

Real DynamoDB applies a conditional write or a transaction atomically. moto's in-memory backend
does not when requests run on several threads: a cancelled TransactWriteItems restores a copy of
the whole table taken before it started, undoing writes other threads made meanwhile (seen as two
winners of a race for one username). Running DynamoDB requests one at a time restores the
guarantee the code relies on; S3 and SQS (long polls) stay concurrent.

Usage: same arguments as `moto_server` (e.g. -H 127.0.0.1 -p 5000).
"""

import threading

from moto import server

_dynamodb = threading.Lock()


def serialise_dynamodb(app):
    def wrapped(environ, start_response):
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            with _dynamodb:
                # Produce the whole response inside the lock.
                return list(app(environ, start_response))
        return app(environ, start_response)

    return wrapped


_run_simple = server.run_simple


def run_simple(host, port, app, **kwargs):
    return _run_simple(host, port, serialise_dynamodb(app), **kwargs)


server.run_simple = run_simple

if __name__ == "__main__":
    server.main()
