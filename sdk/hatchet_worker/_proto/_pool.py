"""The SDK's own protobuf descriptor pool.

The engine's .proto files declare most messages without a package (``WorkerLabels``, ``SDKS``, the
``Dispatcher`` service...), so two libraries that both carry them collide in protobuf's process-wide
default pool ("duplicate symbol"). The generated modules register here instead, so this SDK imports
side by side with the official one (a migration, a test harness) and the bytes on the wire are the same.
"""

from google.protobuf import descriptor_pool, timestamp_pb2

POOL = descriptor_pool.DescriptorPool()
# The only well-known type the protocol uses; a fresh pool has none.
POOL.AddSerializedFile(timestamp_pb2.DESCRIPTOR.serialized_pb)
