package forward

import "github.com/defender-intake/defender-intake/internal/sink"

// Register makes a forwarding sink type known to the configuration and to
// `run`: defaults gives a section with the type's defaults, open builds the
// sink from the validated section, and the sink is then wrapped in a
// best-effort queue when the section's delivery settings ask for one.
func Register[C interface {
	Wrap(sink.Sink) (sink.Sink, error)
}, P interface {
	*C
	sink.Section
}](typ string, defaults func() P, open func(name string, c C) (sink.Sink, error)) {
	sink.Register(typ, sink.Factory{
		NewSection: func() sink.Section { return defaults() },
		Open: func(name string, s sink.Section) (sink.Sink, error) {
			c := *s.(P)
			snk, err := open(name, c)
			if err != nil {
				return nil, err
			}
			return c.Wrap(snk)
		},
	})
}
