package redistest

import "testing"

func TestSlot(t *testing.T) {
	// Reference values from the Redis Cluster specification and redis-cli CLUSTER KEYSLOT.
	for key, want := range map[string]int{
		"123456789":            12739, // CRC16/XMODEM check value 0x31C3 = 12739
		"foo":                  12182,
		"{user1000}.following": Slot("user1000"),
		"br:{U1}:chat":         Slot("U1"),
		"a{}b":                 Slot("a{}b"), // empty tag: the whole key
	} {
		if got := Slot(key); got != want {
			t.Errorf("Slot(%q) = %d, want %d", key, got, want)
		}
	}
	if Slot("br:{U1}:chat") != Slot("br:{U1}:log") || Slot("br:{U1}:chat") == Slot("br:{U2}:chat") {
		t.Error("hash tags not honoured")
	}
}
