package transport

// connOf returns the Conn that a *typecache.Client holds. The root package
// imports this one, so this one cannot name its Client: the root sets
// connOf in its init (SetConnOf), and internal/clientconn gives the feature
// packages a typed accessor over it (ConnOf). Nothing of the Conn is
// exported from the root.
var connOf func(client any) *Conn

// SetConnOf is called once, by package typecache's init, with the function
// that returns a *typecache.Client's Conn.
func SetConnOf(f func(client any) *Conn) { connOf = f }

// ConnOf returns the Conn of client, a *typecache.Client. Use
// internal/clientconn.Of, which is typed, rather than this.
func ConnOf(client any) *Conn { return connOf(client) }
