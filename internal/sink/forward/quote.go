package forward

import "unicode/utf8"

const hexDigits = "0123456789abcdef"

// safeByte marks the bytes written as they are inside a JSON string
// (of valid UTF-8): all but control characters, the quote and the backslash.
var safeByte = func() (t [256]bool) {
	for i := 0x20; i < 256; i++ {
		t[i] = i != '"' && i != '\\'
	}
	return t
}()

// AppendQuoted appends s as a JSON string. Invalid UTF-8 bytes become
// U+FFFD, as encoding/json does.
func AppendQuoted(dst, s []byte) []byte {
	valid := utf8.Valid(s)
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if valid {
			for i < len(s) && safeByte[s[i]] {
				i++
			}
			if i == len(s) {
				break
			}
		}
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
