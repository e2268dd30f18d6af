package plugins

// SetAfterHash sets the hook Launch calls between a pinned plugin's hash
// and its start, and returns a function that removes it.
func SetAfterHash(f func(path string)) (restore func()) {
	afterHash = f
	return func() { afterHash = nil }
}
