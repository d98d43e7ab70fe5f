package pipeline

import "github.com/defender-intake/defender-intake/internal/envelope"

// bodySplitter splits message bodies for a worker. envelope.SplitBody
// reads a body in place, without a read buffer, so there is nothing left
// to reuse between messages; the type stays as the worker's seam.
type bodySplitter struct{}

func (s *bodySplitter) split(body []byte, fn func(rec []byte)) error {
	return envelope.SplitBody(body, fn)
}
