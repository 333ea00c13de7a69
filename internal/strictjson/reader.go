// Package strictjson reads JSON in the plain form that this module's own
// encoders write, without reflection and without encoding/json: a fast
// path for the small files read at every start of a program, where the
// first use of encoding/json (its type analysis, reflection and cold code)
// costs more than the reading itself.
//
// A Reader is strict. It accepts only well-formed JSON, and leaves the
// fast path for good on anything it does not read exactly as
// encoding/json does: invalid UTF-8, a lone surrogate escape, nesting
// deeper than MaxDepth, an integer written as 1e2 or 1.0, a number out of
// range, a value of another type than the one asked for (null included),
// trailing data, or anything its caller rejects (an unknown or duplicate
// member). Its caller then decodes the same bytes with encoding/json,
// which stays the reference: what a Reader accepts, it reads to the same
// values as encoding/json.
package strictjson

// MaxDepth is the deepest nesting of objects and arrays a Reader follows;
// deeper input leaves the fast path (encoding/json allows 10000).
const MaxDepth = 64

// state is what a Reader expects next.
type state uint8

const (
	wantValue state = iota // a value: at the start, after a member's ':', after Element
	wantFirst              // just after '{' or '[': the first member or element, or the end
	wantNext               // after a value: ',' or the end of its container (or, at depth 0, of the input)
)

// Reader reads one JSON value from a byte slice, piece by piece, as its
// caller asks: BeginObject then Member until it returns false, BeginArray
// then Element until it returns false, and the Read methods for values.
// It checks the structure itself, so no sequence of calls accepts
// malformed JSON.
//
// Leaving the fast path is sticky: after it, every Read method returns a
// zero value, Member and Element return false, and OK and Done report
// false. A caller can read a whole document and check once, with Done.
type Reader struct {
	data   []byte
	pos    int
	key    []byte // the current member's key, as written between its quotes
	keyEsc bool   // key holds an escape sequence
	depth  int
	arrays uint64 // bit d-1 is set when the container at depth d is an array
	state  state
	off    bool
}

// NewReader returns a Reader of data, which it neither copies nor
// changes.
func NewReader(data []byte) Reader { return Reader{data: data} }

// OK reports whether all read so far is on the fast path.
func (r *Reader) OK() bool { return !r.off }

// Reject takes the reader off the fast path. A caller calls it on input
// that is well-formed but not what it reads, such as an unknown member.
func (r *Reader) Reject() { r.off = true }

// Done reports whether the input was one whole value, read completely on
// the fast path, followed by nothing but whitespace.
func (r *Reader) Done() bool {
	if r.off || r.depth != 0 || r.state != wantNext {
		return r.fail()
	}
	r.skipSpace()
	if r.pos != len(r.data) {
		return r.fail()
	}
	return true
}

// fail takes the reader off the fast path and returns false.
func (r *Reader) fail() bool {
	r.off = true
	return false
}

func (r *Reader) skipSpace() {
	for r.pos < len(r.data) {
		switch r.data[r.pos] {
		case ' ', '\t', '\n', '\r':
			r.pos++
		default:
			return
		}
	}
}

// valueStart skips the whitespace before a value and returns its first
// byte; false when no value may start here.
func (r *Reader) valueStart() (byte, bool) {
	if r.off || r.state != wantValue {
		return 0, r.fail()
	}
	r.skipSpace()
	if r.pos >= len(r.data) {
		return 0, r.fail()
	}
	return r.data[r.pos], true
}

// inArray reports whether the innermost open container is an array.
func (r *Reader) inArray() bool { return r.arrays&(1<<(r.depth-1)) != 0 }

// begin opens an object ('{') or an array ('[').
func (r *Reader) begin(open byte) bool {
	c, ok := r.valueStart()
	if !ok || c != open || r.depth >= MaxDepth {
		return r.fail()
	}
	r.pos++
	r.depth++
	if open == '[' {
		r.arrays |= 1 << (r.depth - 1)
	} else {
		r.arrays &^= 1 << (r.depth - 1)
	}
	r.state = wantFirst
	return true
}

// BeginObject reads the '{' of an object; then call Member until it
// returns false.
func (r *Reader) BeginObject() bool { return r.begin('{') }

// BeginArray reads the '[' of an array; then call Element until it
// returns false.
func (r *Reader) BeginArray() bool { return r.begin('[') }

// more reads what follows in the innermost container, whose closing byte
// is end: true when a member or element follows (after its ','), false
// at the end of the container (read) or off the fast path.
func (r *Reader) more(end byte) bool {
	if r.off || r.depth == 0 || (r.state != wantFirst && r.state != wantNext) || r.inArray() != (end == ']') {
		return r.fail()
	}
	r.skipSpace()
	if r.pos >= len(r.data) {
		return r.fail()
	}
	switch c := r.data[r.pos]; {
	case c == end:
		r.pos++
		r.depth--
		r.state = wantNext
		return false
	case r.state == wantNext:
		if c != ',' {
			return r.fail()
		}
		r.pos++
	}
	return true
}

// Member reads the key of the next member of the object being read, and
// its ':'. It returns true with the key in Key and the member's value to
// be read next (or skipped, with Skip); false at the end of the object,
// or off the fast path. A key with an escape sequence takes the reader
// off the fast path: no field name of ours needs one.
func (r *Reader) Member() bool {
	return r.member() && (!r.keyEsc || r.fail())
}

// member is Member, with any key.
func (r *Reader) member() bool {
	if !r.more('}') {
		return false
	}
	r.skipSpace()
	if r.pos >= len(r.data) || r.data[r.pos] != '"' {
		return r.fail()
	}
	end, esc, ok := scanString(r.data, r.pos)
	if !ok {
		return r.fail()
	}
	r.key, r.keyEsc = r.data[r.pos+1:end-1], esc
	r.pos = end
	r.skipSpace()
	if r.pos >= len(r.data) || r.data[r.pos] != ':' {
		return r.fail()
	}
	r.pos++
	r.state = wantValue
	return true
}

// Key returns the key of the member Member last read, as written between
// its quotes. It is part of the input: it is valid while the input is.
func (r *Reader) Key() []byte { return r.key }

// Once marks member number i (0 to 63, in the caller's own numbering) of
// an object as read, in seen. It reports whether it was the first time;
// the second time, or for an i out of range, it takes the reader off the
// fast path: encoding/json would let the last of two members win, or
// merge them, and the fast path does not guess which.
func (r *Reader) Once(seen *uint64, i uint) bool {
	if i >= 64 || *seen&(1<<i) != 0 {
		return r.fail()
	}
	*seen |= 1 << i
	return true
}

// Element reports whether another element follows in the array being
// read (after its ','), to be read next; false at the end of the array,
// or off the fast path.
func (r *Reader) Element() bool {
	if !r.more(']') {
		return false
	}
	r.state = wantValue
	return true
}
