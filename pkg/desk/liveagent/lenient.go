package liveagent

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// unmarshalLenient decodes data into v (a pointer to a struct, slice or map of such) and, when a
// strict decode fails on a type mismatch, coerces the JSON to v's field types and tries again:
//
//   - numeric targets accept numeric strings ("30"), integral floats (42.0) and "" or null (zero);
//   - bool targets accept "true"/"false" strings and 0/1;
//   - string targets accept numbers and booleans (their JSON text).
//
// Unknown fields are ignored, as with encoding/json. Values that cannot be coerced keep their
// original form, so the second decode reports them.
func unmarshalLenient(data []byte, v any) error {
	err := json.Unmarshal(data, v)
	if err == nil {
		return nil
	}
	if _, ok := errors.AsType[*json.UnmarshalTypeError](err); !ok {
		return err
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var generic any
	if derr := d.Decode(&generic); derr != nil {
		return err
	}
	fixed, ferr := json.Marshal(coerce(generic, reflect.TypeOf(v).Elem()))
	if ferr != nil {
		return err
	}
	// Reset v before the second decode so partial results of the first do not leak.
	rv := reflect.ValueOf(v).Elem()
	rv.Set(reflect.Zero(rv.Type()))
	return json.Unmarshal(fixed, v)
}

var rawMessageType = reflect.TypeFor[json.RawMessage]()

func coerce(val any, t reflect.Type) any {
	if val == nil {
		return nil
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == rawMessageType || t.Kind() == reflect.Interface {
		return val
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := val.(map[string]any)
		if !ok {
			return val
		}
		fields := jsonFields(t)
		for k, fv := range obj {
			ft, ok := fields[k]
			if !ok {
				ft, ok = fields[strings.ToLower(k)]
			}
			if ok {
				obj[k] = coerce(fv, ft)
			}
		}
		return obj
	case reflect.Slice, reflect.Array:
		arr, ok := val.([]any)
		if !ok {
			return val
		}
		for i := range arr {
			arr[i] = coerce(arr[i], t.Elem())
		}
		return arr
	case reflect.Map:
		obj, ok := val.(map[string]any)
		if !ok {
			return val
		}
		for k := range obj {
			obj[k] = coerce(obj[k], t.Elem())
		}
		return obj
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return coerceInt(val)
	case reflect.Float32, reflect.Float64:
		return coerceFloat(val)
	case reflect.Bool:
		return coerceBool(val)
	case reflect.String:
		switch x := val.(type) {
		case json.Number:
			return x.String()
		case bool:
			return strconv.FormatBool(x)
		}
	}
	return val
}

func coerceInt(val any) any {
	var s string
	switch x := val.(type) {
	case json.Number:
		s = x.String()
	case string:
		s = strings.TrimSpace(x)
		if s == "" {
			return nil
		}
	case bool:
		if x {
			return 1
		}
		return 0
	default:
		return val
	}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) && f == math.Trunc(f) {
		return int64(f)
	}
	return val
}

func coerceFloat(val any) any {
	x, ok := val.(string)
	if !ok {
		return val
	}
	x = strings.TrimSpace(x)
	if x == "" {
		return nil
	}
	if f, err := strconv.ParseFloat(x, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
		return f
	}
	return val
}

func coerceBool(val any) any {
	switch x := val.(type) {
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "true", "1":
			return true
		case "false", "0", "":
			return false
		}
	case json.Number:
		switch x.String() {
		case "1":
			return true
		case "0":
			return false
		}
	}
	return val
}

// jsonFields maps the JSON names of t's exported fields (and their lowercase forms, as
// encoding/json matches case-insensitively) to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	m := make(map[string]reflect.Type, t.NumField())
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		name := f.Name
		if tag, ok := f.Tag.Lookup("json"); ok {
			n, _, _ := strings.Cut(tag, ",")
			if n == "-" {
				continue
			}
			if n != "" {
				name = n
			}
		}
		if f.Anonymous && f.Type.Kind() == reflect.Struct && f.Tag.Get("json") == "" {
			for k, v := range jsonFields(f.Type) {
				m[k] = v
			}
			continue
		}
		m[name] = f.Type
		m[strings.ToLower(name)] = f.Type
	}
	return m
}
