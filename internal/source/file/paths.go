package file

// WrittenPaths implements config.PathWriter: the state file, when there
// is one, so that two components configured to write it are refused.
func (c *Config) WrittenPaths(string) []string { return []string{c.StatePath} }

// ReadPaths implements config.PathReader: the files and patterns read, so
// that a source reading what a sink or the dead-letter file writes is
// refused.
func (c *Config) ReadPaths(string) []string { return c.Paths }
