package file

// WrittenPaths implements config.PathWriter: the state file, when there
// is one, so that two components configured to write it are refused.
func (c *Config) WrittenPaths(string) []string { return []string{c.StatePath} }
