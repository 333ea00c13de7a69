package strictjson

import "strconv"

// ReadInt64 reads an integer value in the range of int64. As for
// encoding/json, it must be written as an integer: 1e2 and 1.0 take the
// reader off the fast path, as does a number out of range.
func (r *Reader) ReadInt64() int64 {
	neg, n := r.integer()
	switch {
	case r.off:
		return 0
	case !neg && n <= 1<<63-1:
		return int64(n)
	case neg && n <= 1<<63:
		return int64(-n) // -(1<<63) wraps to itself, as it should
	}
	r.fail()
	return 0
}

// ReadInt reads an integer value in the range of int (32 or 64 bits, as
// encoding/json checks it).
func (r *Reader) ReadInt() int {
	n := r.ReadInt64()
	if int64(int(n)) != n {
		r.fail()
		return 0
	}
	return int(n)
}

// ReadUint64 reads a non-negative integer value in the range of uint64
// (no minus sign, not even in -0, which encoding/json refuses too).
func (r *Reader) ReadUint64() uint64 {
	neg, n := r.integer()
	if r.off || neg {
		r.fail()
		return 0
	}
	return n
}

// integer reads a number written as an integer: its sign and magnitude.
func (r *Reader) integer() (neg bool, n uint64) {
	num, isInt := r.number()
	if r.off {
		return false, 0
	}
	if !isInt {
		r.fail()
		return false, 0
	}
	if num[0] == '-' {
		neg, num = true, num[1:]
	}
	for _, c := range num {
		d := uint64(c - '0')
		if n > (1<<64-1-d)/10 {
			r.fail()
			return false, 0
		}
		n = n*10 + d
	}
	return neg, n
}

// readFloat reads a number as encoding/json decodes one into an any: a
// float64 from strconv.ParseFloat, which must not fail (out of range).
func (r *Reader) readFloat() float64 {
	num, _ := r.number()
	if r.off {
		return 0
	}
	f, err := strconv.ParseFloat(string(num), 64)
	if err != nil {
		r.fail()
		return 0
	}
	return f
}

// number reads a number value as JSON writes it: its bytes, and whether
// it is written as an integer (no fraction, no exponent).
func (r *Reader) number() (num []byte, isInt bool) {
	if _, ok := r.valueStart(); !ok {
		return nil, false
	}
	d, start := r.data, r.pos
	i := start
	if d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && '1' <= d[i] && d[i] <= '9':
		i = digits(d, i)
	default:
		r.fail()
		return nil, false
	}
	isInt = true
	if i < len(d) && d[i] == '.' {
		isInt = false
		if i = digits(d, i+1); d[i-1] == '.' {
			r.fail()
			return nil, false
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		isInt = false
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if j := digits(d, i); j > i {
			i = j
		} else {
			r.fail()
			return nil, false
		}
	}
	r.pos = i
	r.state = wantNext
	return d[start:i], isInt
}

// digits returns the index of the first byte from i on that is not a
// decimal digit.
func digits(d []byte, i int) int {
	for i < len(d) && '0' <= d[i] && d[i] <= '9' {
		i++
	}
	return i
}
