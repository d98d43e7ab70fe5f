package http

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
)

// badTail is the part of a gzip body after its last whole member that is
// not one: it is dead-lettered as sent, and the members before it are
// taken.
type badTail struct {
	raw    []byte
	reason string
}

// gzipMembers reads the members of a gzip body one after another (RFC
// 1952 allows several) and stops at the first bytes that are not a whole
// member. Go's multistream reader failed the whole body on them: a
// newline or zero padding after the data (which gzip -d ignores), or a
// damaged last member, lost every good member before it to a 400.
type gzipMembers struct {
	raw []byte
	br  *bytes.Reader
	zr  *gzip.Reader
	// members counts the whole members read; start is the offset in raw
	// of the one being read, and decodedAtStart the decoded bytes before
	// it.
	members        int
	start          int
	decoded        int64
	decodedAtStart int64
	// tail is set once reading stopped before the end of raw: the rest
	// of raw, and why. cut is then the decoded length to keep.
	tail *badTail
	cut  int64
}

func newGzipMembers(raw []byte) (*gzipMembers, error) {
	m := &gzipMembers{raw: raw, br: bytes.NewReader(raw), cut: -1}
	zr, err := gzip.NewReader(m.br)
	if err != nil {
		return nil, err
	}
	zr.Multistream(false)
	m.zr = zr
	return m, nil
}

func (m *gzipMembers) Read(p []byte) (int, error) {
	for {
		if m.tail != nil {
			return 0, io.EOF
		}
		n, err := m.zr.Read(p)
		m.decoded += int64(n)
		if err == nil || (err == io.EOF && n > 0) {
			return n, nil
		}
		if err != io.EOF {
			if m.members == 0 {
				// The first member is damaged: the body is bad.
				return n, err
			}
			// A damaged later member: the ones before it are whole
			// (their checksums matched), this one and the rest are not.
			m.tail = &badTail{raw: m.raw[m.start:], reason: fmt.Sprintf("gzip member %d (byte %d on) does not decode: %v", m.members+1, m.start, err)}
			m.cut = m.decodedAtStart
			return 0, io.EOF
		}
		m.members++
		next := len(m.raw) - m.br.Len()
		rest := m.raw[next:]
		if len(rest) >= 2 && rest[0] == 0x1f && rest[1] == 0x8b {
			m.start, m.decodedAtStart = next, m.decoded
			if err := m.zr.Reset(m.br); err != nil {
				m.tail = &badTail{raw: rest, reason: fmt.Sprintf("gzip member %d (byte %d on) does not decode: %v", m.members+1, next, err)}
				return 0, io.EOF
			}
			m.zr.Multistream(false)
			continue
		}
		if !padding(rest) {
			m.tail = &badTail{raw: rest, reason: fmt.Sprintf("%d bytes after the gzip data (byte %d on) are not gzip", len(rest), next)}
		}
		return 0, io.EOF
	}
}

// padding reports whether b holds only zero bytes and white space, which
// some writers put after gzip data: not data, nothing to keep.
func padding(b []byte) bool {
	for _, c := range b {
		switch c {
		case 0, ' ', '\t', '\r', '\n':
		default:
			return false
		}
	}
	return true
}
