# Shared by the reference scripts: record every R call that produces a reference number.
# Each script sources this after locating its own folder (ref_dir).

.calls <- character(0)

# Evaluate a call given as text, print it first and remember it for the JSON record, so
# the JSON says exactly which R call produced each number.
run <- function(code) {
  cat("  > ", code, "\n", sep = "")
  .calls <<- c(.calls, code)
  eval(parse(text = code), envir = globalenv())
}

begin_case <- function(name) {
  cat("\n=== case ", name, " ===\n", sep = "")
  .calls <<- character(0)
}
