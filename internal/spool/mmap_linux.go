package spool

import "syscall"

// mapFlags maps the data file shared and populates the page tables at once,
// so that neither recovery nor the first lap of Appends pays a page fault
// per page.
const mapFlags = syscall.MAP_SHARED | syscall.MAP_POPULATE
