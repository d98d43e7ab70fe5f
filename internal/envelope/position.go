package envelope

import "io"

// Position is where reading can resume after an item that Next returned
// (a record or an *Error): a Reader made by NewReaderAt on the input from
// Offset on first gives again the Items items that the original Reader
// gave from there (to be skipped), then what followed the item. It is a
// byte offset, not a count of items from the top, so that it stays right
// when the input after it is read differently later: a followed file whose
// unfinished last line was dead-lettered, then finished by its writer.
type Position struct {
	Offset  int64 // input offset
	Line    int   // line of Offset, 1-based
	MidLine bool  // Offset is not at the start of a line
	Items   int   // items to skip after resuming (records of an envelope or array in progress)
}

// Position returns where reading can resume after the last item Next
// returned (the start of the input before the first).
func (r *Reader) Position() Position { return r.resume }

// NewReaderAt returns a Reader on src, which holds the input from p.Offset
// on (a file seeked there). Offsets and lines go on from p.
func NewReaderAt(src io.Reader, p Position) *Reader {
	return &Reader{in: input{src: src, base: p.Offset, mark: p.Offset}, line: p.Line, bol: !p.MidLine,
		resume: Position{Offset: p.Offset, Line: p.Line, MidLine: p.MidLine}}
}

// track sets the resume position after an item: right after it between
// top-level values; inside an envelope or array (or before all its records
// were given), at the start of the array with the count of its items given.
func (r *Reader) track() {
	if r.mode == atTop && len(r.ready) == 0 {
		r.resume = Position{Offset: r.in.pos(), Line: r.line, MidLine: !r.bol}
		return
	}
	r.arrItems++
	a := &r.arr
	r.resume = Position{Offset: a.start, Line: a.line, MidLine: a.midLine, Items: r.arrItems}
}
