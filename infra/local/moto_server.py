"""moto's server mode, with DynamoDB requests serialised.

Real DynamoDB applies a conditional write or a transaction atomically. moto's in-memory backend
does not when requests run on several threads: a cancelled TransactWriteItems restores a copy of
the whole table taken before it started, undoing writes other threads made meanwhile (seen as two
winners of a race for one username). Running DynamoDB requests one at a time restores the
guarantee the code relies on; S3 and SQS (long polls) stay concurrent. Stream records are
shared, not copied, by the table copies moto makes (see below).

Usage: same arguments as `moto_server` (e.g. -H 127.0.0.1 -p 5000).
"""

import copy
import threading

from moto import server
from moto.dynamodb.models.table import StreamShard

_dynamodb = threading.Lock()


def serialise_dynamodb(app):
    def wrapped(environ, start_response):
        # Stream reads too: one in the middle of a transaction would see records it rolls back.
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith(("DynamoDB_", "DynamoDBStreams_")):
            with _dynamodb:
                # Produce the whole response inside the lock.
                return list(app(environ, start_response))
        return app(environ, start_response)

    return wrapped


# moto deep-copies a whole table before each TransactWriteItems (to roll it back on failure),
# its stream's records included: copied one by one, every transaction grew slower and the
# server's memory grew with the stream (gigabytes over a test run). A record never changes once
# written, so a copy of the shard shares them; a rolled-back copy still drops the records the
# failed transaction added.
def _copy_shard(self, memo):
    new = copy.copy(self)
    new.items = list(self.items)
    new.table = memo.get(id(self.table), self.table)
    return new


StreamShard.__deepcopy__ = _copy_shard

_run_simple = server.run_simple


def run_simple(host, port, app, **kwargs):
    return _run_simple(host, port, serialise_dynamodb(app), **kwargs)


server.run_simple = run_simple

if __name__ == "__main__":
    server.main()
