/* protobuf-c glue (being written). */
