// Package optionerr words the errors of every package's option checks one
// way: "<pkg>: invalid options: <field> ...", wrapping the package's
// ErrInvalidOptions, so that callers match them with errors.Is and read
// which field to fix.
package optionerr

import "fmt"

// For returns the function a package reports invalid options with: each of
// its errors wraps sentinel, the package's ErrInvalidOptions, and goes on
// with format, which starts with the field's (or argument's) name.
func For(sentinel error) func(format string, args ...any) error {
	return func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{sentinel}, args...)...)
	}
}
