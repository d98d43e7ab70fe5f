package envelope

// readTopObject reads a top-level object. When the object turns out to be
// an envelope (a "records" key whose value is an array), it stops right
// after the array's '[' and reports isEnvelope, so that the records are
// streamed one by one instead of buffered. The object, r.from on, is
// bounded by MaxRecordBytes as a whole, not member by member.
func (r *Reader) readTopObject() (isEnvelope bool, err error) {
	in := &r.in
	in.r++ // '{'
	for first := true; ; first = false {
		if err := r.skipIn(); err != nil {
			return false, err
		}
		c := in.buf[in.r]
		if c == '}' {
			in.r++
			return false, nil
		}
		if !first {
			if c != ',' {
				return false, grammarErr(stAfter, c)
			}
			in.r++
			if err := r.skipIn(); err != nil {
				return false, err
			}
			c = in.buf[in.r]
		}
		if c != '"' {
			return false, grammarErr(stKey, c)
		}
		keyStart := in.pos()
		if err := r.scanValue(r.from); err != nil {
			return false, err
		}
		isRecords := string(in.slice(keyStart, in.pos())) == `"records"`
		if err := r.colon(); err != nil {
			return false, err
		}
		if isRecords && in.buf[in.r] == '[' {
			in.r++
			return true, nil
		}
		if err := r.scanValue(r.from); err != nil {
			return false, err
		}
	}
}

// colon reads the ':' after a key and the blanks after it.
func (r *Reader) colon() error {
	if err := r.skipIn(); err != nil {
		return err
	}
	if c := r.in.buf[r.in.r]; c != ':' {
		return grammarErr(stColon, c)
	}
	r.in.r++
	return r.skipIn()
}

// readEnvelopeEnd reads what follows the records array of an envelope up
// to and including its closing brace: more members, or none.
func (r *Reader) readEnvelopeEnd() error {
	in := &r.in
	for {
		c := in.buf[in.r]
		if c == '}' {
			in.r++
			return nil
		}
		if c != ',' {
			return grammarErr(stAfter, c)
		}
		in.r++
		if err := r.skipIn(); err != nil {
			return err
		}
		if c := in.buf[in.r]; c != '"' {
			return grammarErr(stKey, c)
		}
		if err := r.scanValue(r.from); err != nil {
			return err
		}
		if err := r.colon(); err != nil {
			return err
		}
		if err := r.scanValue(r.from); err != nil {
			return err
		}
		if err := r.skipIn(); err != nil {
			return err
		}
	}
}
