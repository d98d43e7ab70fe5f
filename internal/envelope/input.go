package envelope

import (
	"bytes"
	"io"
)

// input is the Reader's buffer over its source. Unlike a bufio.Reader it
// keeps every consumed byte from a mark on, so that a value can be returned
// as a slice of the buffer (no copy), and so that when a value that spans
// lines turns out to be damaged the reader can go back to the line after
// the one where it started and read that input again.
type input struct {
	src  io.Reader // nil: buf already holds the whole input
	buf  []byte
	base int64 // input offset of buf[0]
	r, w int   // buf[r:w] is read from src but not consumed yet
	// mark is the input offset of the first consumed byte that must be
	// kept; bytes before it may be dropped when the buffer is refilled.
	mark int64
	err  error // a read error to report once the buffered bytes are used
	// crLines is set when the input's lines end with a bare "\r" (old Mac
	// exports): each "\r" read is then turned into "\n", so that a damaged
	// line is one line, not the rest of the input. It is known at the
	// first line end: "\n" or "\r\n" (lfLines) or a bare "\r".
	crLines, lfLines bool
	crAtEnd          bool // the last byte read is "\r", the line end not known yet
}

const readSize = 1 << 20

func (in *input) pos() int64 { return in.base + int64(in.r) }

// slice returns the input bytes between two offsets, both at or after mark.
func (in *input) slice(from, to int64) []byte {
	return in.buf[from-in.base : to-in.base]
}

// seek moves the read position back to off, which is at or after mark.
func (in *input) seek(off int64) { in.r = int(off - in.base) }

// fill reads more of the source after the unread bytes. It returns the
// source's error (io.EOF at the end) once, like bufio.Reader: a source that
// grows (a followed file) can be read again after it said io.EOF.
func (in *input) fill() error {
	if in.err != nil {
		err := in.err
		in.err = nil
		return err
	}
	if in.src == nil {
		return io.EOF
	}
	if in.buf == nil {
		in.buf = make([]byte, readSize)
	}
	if len(in.buf)-in.w < len(in.buf)/4 {
		keep := in.r
		if m := int(in.mark - in.base); m < keep {
			keep = max(m, 0)
		}
		if keep > 0 {
			n := copy(in.buf, in.buf[keep:in.w])
			in.base += int64(keep)
			in.r -= keep
			in.w = n
		}
		if len(in.buf)-in.w < len(in.buf)/4 {
			// The kept bytes (a large value, or lines that may be read
			// again) fill the buffer: grow it.
			nb := make([]byte, 2*len(in.buf))
			copy(nb, in.buf[:in.w])
			in.buf = nb
		}
	}
	for range 100 {
		// At most readSize at a time: a value found too large is then
		// found so within readSize of MaxRecordBytes.
		n, err := in.src.Read(in.buf[in.w:min(len(in.buf), in.w+readSize)])
		in.w += n
		if n > 0 && !in.lfLines {
			in.lineEnds(in.w - n)
			// A "\r" last: what it ends is known with the next byte,
			// which must come before the reader goes through the "\r".
			for try := 0; in.crAtEnd && err == nil && in.w < len(in.buf) && try < 100; try++ {
				var m int
				m, err = in.src.Read(in.buf[in.w:min(len(in.buf), in.w+readSize)])
				in.w += m
				if m > 0 {
					in.lineEnds(in.w - m)
				}
			}
		}
		if n > 0 {
			in.err = err
			return nil
		}
		if err != nil {
			return err
		}
	}
	return io.ErrNoProgress
}

// lineEnds looks for the input's first line end in the bytes read from
// buf[from] on, and turns "\r" into "\n" once the lines are known to end
// with a bare "\r". (The bytes keep their offsets; a record spread over
// lines has "\n" where the input has "\r", which is the same JSON.)
func (in *input) lineEnds(from int) {
	b := in.buf[:in.w]
	if !in.crLines {
		i := from
		if in.crAtEnd {
			in.crAtEnd = false
			if b[i] == '\n' {
				in.lfLines = true
				return
			}
			in.crLines = true
		}
		for ; !in.crLines && i < len(b); i++ {
			switch b[i] {
			case '\n':
				in.lfLines = true
				return
			case '\r':
				if i+1 == len(b) {
					in.crAtEnd = true
					return
				}
				if b[i+1] == '\n' {
					in.lfLines = true
					return
				}
				in.crLines = true
			}
		}
		if !in.crLines {
			return
		}
		from = in.r // what is read already is left as it is
	}
	for i := from; ; {
		k := bytes.IndexByte(b[i:], '\r')
		if k < 0 {
			return
		}
		i += k
		b[i] = '\n'
		i++
	}
}
