package forward

// WrittenPaths implements config.PathWriter for every forwarding sink
// (the method is promoted from the inlined Delivery): its dead-letter
// file and, when best effort, its queue directory.
func (d Delivery) WrittenPaths(name string) []string {
	paths := []string{d.DeadLetterPath(name)}
	if d.BestEffort {
		dir := d.Buffer.Dir
		if dir == "" {
			dir = "data/queue-" + name
		}
		paths = append(paths, dir)
	}
	return paths
}
