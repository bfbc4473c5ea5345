/// The buffers of an HTTP/1 session's queues (exchanges ready, requests waiting), lent by the tracker to the one
/// connection being fed and taken back once it is idle again. A keep-alive
/// connection between requests then holds no buffer at all (10,000 idle
/// connections kept ~6 MB of empty capacity), while the busy path still
/// appends into capacity it already has instead of allocating per exchange.
struct HTTP1SpareBuffers {
    var ready: [Exchange] = []
    var pending: [HTTP1RequestQueue.PendingRequest] = []
}
