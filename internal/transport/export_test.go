package transport

// ErrPeerClosed is the error of a call the direct client could not send on
// any connection because the server had closed each it tried.
var ErrPeerClosed = errPeerClosed
