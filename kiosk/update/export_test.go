package update

// WithFault returns o with a crash point: f is called at each step of an
// install and switch ("pending", "linked", "renamed") and a non-nil error
// stops there, as a crash would.
func WithFault(o Options, f func(step string) error) Options {
	o.fault = f
	return o
}

// Unpack is Layout.unpack, for the tests of bundles made by the publisher.
func Unpack(l Layout, path string, want Release) error { return l.unpack(path, want) }
