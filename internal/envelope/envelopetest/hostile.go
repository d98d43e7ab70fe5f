// Package envelopetest builds hostile inputs for the tests of everything
// that reads records from files: valid records in every shape the reader
// accepts, with lines cut short, junk lines and invalid UTF-8 between them,
// and what must come out of them.
package envelopetest

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
)

// Mix is one hostile input and what a reader must make of it.
type Mix struct {
	Input []byte
	// Records are the valid records, in input order, each exactly as it
	// appears in Input.
	Records [][]byte
	// Bad are the damaged lines, in input order, each exactly as in Input
	// (its leading blanks included, its line break excluded).
	Bad [][]byte
}

// NewMix builds an input from records (compact one-line JSON objects),
// consumed in order: most become valid records in one of the accepted
// shapes (a record per line, one-line envelopes and arrays, pretty-printed
// envelopes and records); some are cut short at a random byte and become bad
// lines. Junk lines and invalid UTF-8 lines are put between them; there is
// at least one bad line. Lines end
// with "\n" or "\r\n", and the last line may have no line break.
func NewMix(rng *rand.Rand, records [][]byte) Mix {
	var m Mix
	var in bytes.Buffer
	eol := func() {
		if rng.IntN(4) == 0 {
			in.WriteString("\r\n")
		} else {
			in.WriteByte('\n')
		}
	}
	bad := func(line []byte) {
		if rng.IntN(4) == 0 {
			line = append([]byte("  \t"[:1+rng.IntN(3)]), line...)
		}
		in.Write(line)
		m.Bad = append(m.Bad, line)
		eol()
	}
	for len(records) > 0 {
		switch k := rng.IntN(10); {
		case k < 2:
			bad(junkLine(rng))
		case k < 3:
			bad(invalidUTF8Line(rng))
		case k < 5:
			// A line cut short: a record or an envelope of records.
			n := min(1+rng.IntN(3), len(records))
			line := records[0]
			if rng.IntN(2) == 0 {
				line = envelope(records[:n])
			} else {
				n = 1
			}
			records = records[n:]
			bad(line[:1+rng.IntN(len(line)-1)])
		default:
			shape := rng.IntN(5)
			n := 1
			if shape >= 1 && shape <= 3 {
				n = min(1+rng.IntN(3), len(records))
			}
			recs := records[:n:n]
			records = records[n:]
			switch shape {
			case 0:
				in.Write(recs[0])
			case 1:
				in.Write(envelope(recs))
			case 2:
				in.WriteByte('[')
				in.Write(bytes.Join(recs, []byte(",")))
				in.WriteByte(']')
			case 3:
				// Pretty-printed envelope: its records keep their bytes.
				in.WriteString("{\n  \"records\": [\n")
				for i, r := range recs {
					in.WriteString("    ")
					in.Write(r)
					if i < len(recs)-1 {
						in.WriteByte(',')
					}
					in.WriteByte('\n')
				}
				in.WriteString("  ]\n}")
			case 4:
				var ind bytes.Buffer
				json.Indent(&ind, recs[0], "", "  ")
				recs = [][]byte{ind.Bytes()}
				in.Write(recs[0])
			}
			m.Records = append(m.Records, recs...)
			eol()
		}
	}
	if len(m.Bad) == 0 || rng.IntN(3) == 0 {
		bad(junkLine(rng))
	}
	if rng.IntN(2) == 0 {
		// No line break at the end.
		in.Truncate(len(bytes.TrimRight(in.Bytes(), "\r\n")))
	}
	m.Input = in.Bytes()
	return m
}

func envelope(recs [][]byte) []byte {
	var b bytes.Buffer
	b.WriteString(`{"records":[`)
	b.Write(bytes.Join(recs, []byte(",")))
	b.WriteString("]}")
	return b.Bytes()
}

// junkLine is printable text that is not JSON: it starts with a letter
// that is not the start of true, false or null, and goes on with anything,
// brackets and quotes included.
func junkLine(rng *rand.Rand) []byte {
	const first = "abcdeghijklmopqrsuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	const rest = first + "0123456789 {}[]\",:.-_\\/'#"
	b := []byte{first[rng.IntN(len(first))]}
	for n := rng.IntN(60); n > 0; n-- {
		b = append(b, rest[rng.IntN(len(rest))])
	}
	return b
}

// invalidUTF8Line holds bytes that are not UTF-8, and no line break.
func invalidUTF8Line(rng *rand.Rand) []byte {
	b := []byte{0x80 + byte(rng.IntN(0x6f))} // a continuation or lead byte, not EF
	for n := rng.IntN(40); n > 0; n-- {
		c := byte(rng.IntN(256))
		if c == '\n' || c == '\r' {
			c = 0xff
		}
		b = append(b, c)
	}
	return b
}
