package strictjson

// ReadBool reads true or false.
func (r *Reader) ReadBool() bool {
	c, ok := r.valueStart()
	if ok && c == 't' {
		return r.literal("true")
	}
	r.literal("false")
	return false
}

// literal reads the literal lit (true, false or null), which must come
// next. A literal run on into more letters, as in truex, leaves the fast
// path when what follows it is read.
func (r *Reader) literal(lit string) bool {
	if _, ok := r.valueStart(); !ok {
		return false
	}
	if len(r.data)-r.pos < len(lit) || string(r.data[r.pos:r.pos+len(lit)]) != lit {
		return r.fail()
	}
	r.pos += len(lit)
	r.state = wantNext
	return true
}

// Skip reads a value of any kind and drops it.
func (r *Reader) Skip() {
	c, ok := r.valueStart()
	if !ok {
		return
	}
	switch c {
	case '{':
		r.BeginObject()
		for r.member() {
			r.Skip()
		}
	case '[':
		r.BeginArray()
		for r.Element() {
			r.Skip()
		}
	case '"':
		r.quoted()
	case 't', 'f':
		r.ReadBool()
	case 'n':
		r.literal("null")
	default:
		r.number()
	}
}

// ReadRaw reads a value of any kind, null included, and returns it as
// written: the bytes that encoding/json keeps in a json.RawMessage,
// without the whitespace around them. It is part of the input: it is
// valid while the input is.
func (r *Reader) ReadRaw() []byte {
	if _, ok := r.valueStart(); !ok {
		return nil
	}
	start := r.pos
	r.Skip()
	if r.off {
		return nil
	}
	return r.data[start:r.pos]
}

// ReadAny reads a value of any kind as encoding/json decodes one into an
// any: a map[string]any, an []any, a string, a float64, a bool or nil.
// Of an object's members with one key, the last one counts, as in
// encoding/json.
func (r *Reader) ReadAny() any {
	c, ok := r.valueStart()
	if !ok {
		return nil
	}
	switch c {
	case '{':
		if m := r.ReadMap(); m != nil {
			return m
		}
	case '[':
		if s := r.readSlice(); s != nil {
			return s
		}
	case '"':
		return r.ReadString()
	case 't', 'f':
		return r.ReadBool()
	case 'n':
		r.literal("null")
	default:
		return r.readFloat()
	}
	return nil
}

// ReadMap reads an object as encoding/json decodes one into a
// map[string]any (see ReadAny). An empty object gives an empty map, not
// nil; nil means the reader is off the fast path.
func (r *Reader) ReadMap() map[string]any {
	if !r.BeginObject() {
		return nil
	}
	m := map[string]any{}
	for r.member() {
		k := r.keyString()
		m[k] = r.ReadAny()
	}
	if r.off {
		return nil
	}
	return m
}

// readSlice reads an array as encoding/json decodes one into an any: an
// []any, empty rather than nil for an empty array.
func (r *Reader) readSlice() []any {
	if !r.BeginArray() {
		return nil
	}
	s := []any{}
	for r.Element() {
		s = append(s, r.ReadAny())
	}
	if r.off {
		return nil
	}
	return s
}
