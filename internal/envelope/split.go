package envelope

import (
	"bytes"
	"errors"
	"io"
)

// SplitBody calls fn with each record of one Event Hub message body. A body
// with no JSON at all returns ErrEmpty. A body that is damaged in places
// still yields every record that can be found; the returned *Error then
// holds, in Raw, all the bytes that were skipped (one line of the body
// after another), and in Parts, when there is more than one, each bad
// stretch on its own, so that the caller can dead-letter them. Records passed
// to fn are only valid during the call. The body is read in place.
func SplitBody(body []byte, fn func(rec []byte)) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return ErrEmpty
	}
	rd := NewBytesReader(body)
	var bad *Error
	for {
		rec, err := rd.Next()
		if err == io.EOF {
			if bad == nil {
				return nil
			}
			return bad
		}
		var e *Error
		if errors.As(err, &e) {
			if bad == nil {
				bad = &Error{Line: e.Line, Reason: e.Reason, Raw: e.Raw}
			} else {
				if len(bad.Parts) == 0 {
					bad.Parts = append(bad.Parts, &Error{Line: bad.Line, Reason: bad.Reason, Raw: bad.Raw})
					bad.Raw = bytes.Clone(bad.Raw)
				}
				bad.Parts = append(bad.Parts, e)
				bad.Raw = append(append(bad.Raw, '\n'), e.Raw...)
			}
			continue
		}
		if err != nil {
			return err
		}
		fn(rec.Bytes)
	}
}
