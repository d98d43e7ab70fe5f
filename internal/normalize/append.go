package normalize

// Append appends to dst the ECS document (one JSON object, no trailing
// newline) for one raw streaming record, with the extra fields set on it.
// Every JSON object yields a document; an error is returned, and dst left
// unchanged, only when record is not a JSON object, so that the caller can
// dead-letter it.
func (n *Normalizer) Append(dst, record []byte, extra ...Field) ([]byte, Meta, error) {
	panic("not implemented yet")
}
