package capture

// WrittenPaths implements config.PathWriter: the progress file, so that
// two components configured to write it are refused.
func (c *Config) WrittenPaths(name string) []string {
	if c.StatePath == "" {
		return []string{"data/capture-" + name + ".json"}
	}
	return []string{c.StatePath}
}
