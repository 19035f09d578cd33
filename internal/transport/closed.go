package transport

// Closed reports whether Close was called: every command sent through c
// afterwards fails with rueidis.ErrClosing. The packages built on c check
// it before their calls, so that a closed client fails every call (local
// reads included) instead of looking like an outage.
func (c *Conn) Closed() bool { return c.closed.Load() }
