// Package observe holds the rule by which every typecache package names
// the observer of an instance: New passes Options.Observer and the
// instance's name (a cache's, counter's or board's name; a Locker's,
// limiter's or session store's Prefix) to [Named], and reports to what it
// returns. Each package documents the rule as its NamedObserver interface.
package observe

// Named returns the observer the instance called name reports to: when o
// has a method WithName(string) O (it is a package's NamedObserver), what
// that method returns for name, or none when it returns nil; otherwise o
// itself. WithName is called at most once.
func Named[O comparable](o O, name string, none O) O {
	n, ok := any(o).(interface{ WithName(name string) O })
	if !ok {
		return o
	}
	var zero O
	if named := n.WithName(name); named != zero {
		return named
	}
	return none
}
