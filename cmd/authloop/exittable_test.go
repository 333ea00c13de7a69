package main

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestExitTableInREADME: the README's exit-code table says what exitTable
// says, row for row (markdown code spans aside), and `authloop help` prints
// every row.
func TestExitTableInREADME(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var rows []exitRow
	in := false
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "| Code | Meaning |"):
			in = true
		case in && strings.HasPrefix(line, "|---"):
		case in && strings.HasPrefix(line, "| "):
			cells := strings.Split(strings.Trim(line, "| "), " | ")
			if len(cells) != 2 {
				t.Fatalf("README exit-code row %q has %d cells, want 2", line, len(cells))
			}
			code, err := strconv.Atoi(cells[0])
			if err != nil {
				t.Fatalf("README exit-code row %q: %v", line, err)
			}
			rows = append(rows, exitRow{code, strings.ReplaceAll(cells[1], "`", "")})
		case in:
			in = false
		}
	}
	if len(rows) != len(exitTable) {
		t.Fatalf("README's exit-code table has %d rows, the code's %d:\n%v", len(rows), len(exitTable), rows)
	}
	for i, r := range exitTable {
		if rows[i] != r {
			t.Errorf("README row %d = %d %q\nwant %d %q", i, rows[i].code, rows[i].meaning, r.code, r.meaning)
		}
	}

	_, help, _ := runCmd(t, "help")
	flat := strings.Join(strings.Fields(help), " ")
	for _, r := range exitTable {
		if want := strconv.Itoa(r.code) + " " + r.meaning; !strings.Contains(flat, want) {
			t.Errorf("authloop help lacks %q", want)
		}
	}
}

// TestExitCodesInTable: every code the command returns is in the table.
func TestExitCodesInTable(t *testing.T) {
	for _, c := range []int{exitOK, exitFailure, exitUsage, exitLoginRequired, exitUnreachable} {
		if _, ok := exitMeaning(c); !ok {
			t.Errorf("exit code %d is not in exitTable", c)
		}
	}
}
