package detectsink

// WrittenPaths implements config.PathWriter: the alert file, when there is
// one, and the correlation state file. The store directory is not listed:
// sharing it with the store sink is the intended setup (one database for
// the events and their alerts).
func (c *Config) WrittenPaths(name string) []string {
	return []string{c.File, c.statePath(name)}
}
