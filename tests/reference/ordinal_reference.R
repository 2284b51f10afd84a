# Reference numbers for the ordinal SEM layer (analysis/sem/polychoric.py, wls.py, ordinal.py),
# computed with lavaan 0.6. Complements lavaan_reference.R (case hs_ordinal) with the
# matrices behind the WLSMV fit and with extra models and data shapes.
#
# Regenerate from the repository root:
#   Rscript tests/reference/ordinal_reference.R
# Writes tests/reference/ordinal_reference.json and tests/reference/data/hs_ordinal7.csv.
# R is never a runtime dependency.

suppressPackageStartupMessages({
  library(lavaan)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = FALSE)
script_file <- sub("^--file=", "", args[grep("^--file=", args)])
ref_dir <- if (length(script_file) == 1) dirname(normalizePath(script_file)) else "tests/reference"
data_dir <- file.path(ref_dir, "data")
out_file <- file.path(ref_dir, "ordinal_reference.json")
source(file.path(ref_dir, "helpers.R"))


FIT_NAMES <- c(
  "npar", "fmin", "chisq", "df", "pvalue", "baseline.chisq", "baseline.df",
  "cfi", "tli", "rmsea", "rmsea.ci.lower", "rmsea.ci.upper", "srmr", "wrmr",
  "chisq.scaled", "df.scaled", "pvalue.scaled", "chisq.scaling.factor",
  "baseline.chisq.scaled", "baseline.df.scaled", "baseline.chisq.scaling.factor",
  "cfi.scaled", "tli.scaled", "rmsea.scaled", "rmsea.ci.lower.scaled", "rmsea.ci.upper.scaled"
)

fit_record <- function(fit) {
  fm <- fitMeasures(fit)
  keep <- intersect(FIT_NAMES, names(fm))
  out <- as.list(setNames(as.numeric(fm[keep]), keep))
  out$ntotal <- lavInspect(fit, "ntotal")
  # the shift parameter of the scaled-shifted test is not a fit measure
  test <- lavInspect(fit, "test")
  out$shift.parameter <- test[[2]]$shift.parameter
  out
}

estimates_record <- function(fit) {
  pe <- parameterEstimates(fit, standardized = TRUE)
  if (is.null(pe$label)) pe$label <- ""
  pe <- pe[pe$op %in% c("=~", "~", "~~", "|", ":="), ]
  cols <- c("lhs", "op", "rhs", "label", "est", "se", "z", "pvalue", "std.all")
  out <- as.data.frame(pe[, cols])
  rownames(out) <- NULL
  out
}

matrix_record <- function(m) {
  list(rownames = rownames(m), colnames = colnames(m), values = unname(unclass(m)))
}

cases <- list()
hs_ordinal <- read.csv(file.path(data_dir, "holzinger39_ordinal.csv"))
hs <- read.csv(file.path(data_dir, "holzinger39.csv"))
items <- paste0("x", 1:9)

hs_model <- "
visual  =~ x1 + x2 + x3
textual =~ x4 + x5 + x6
speed   =~ x7 + x8 + x9
"

# ---------------------------------------------------------------------------------------
# hs_ordinal_matrices: sample statistics, NACOV (Gamma) and DWLS weights of the hs_ordinal fit
# ---------------------------------------------------------------------------------------

begin_case("hs_ordinal_matrices")
fit_ord <- run('cfa(hs_model, data = hs_ordinal, ordered = items)')
wls_obs <- run('lavInspect(fit_ord, "wls.obs")')
gamma <- run('lavInspect(fit_ord, "gamma")')
wls_v <- run('lavInspect(fit_ord, "wls.v")')
delta <- run('lavInspect(fit_ord, "delta")')
cases$hs_ordinal_matrices <- list(
  calls = .calls,
  model = hs_model,
  data = "data/holzinger39_ordinal.csv",
  # lavaan orders the statistics as thresholds (x1|t1, x1|t2, ...), then the correlations
  # of the lower triangle column by column (x2~~x1, x3~~x1, ..., x9~~x8)
  wls_obs = unname(as.numeric(wls_obs)),
  wls_obs_names = names(wls_obs),
  gamma = unname(unclass(gamma)),
  wls_v_diag = unname(diag(wls_v)),
  vcov_diag = unname(diag(lavInspect(fit_ord, "vcov"))),
  ugamma_traces = {
    ug <- lavInspect(fit_ord, "UGamma")
    list(trace = sum(diag(ug)), trace_squared = sum(diag(ug %*% ug)))
  }
)

# ---------------------------------------------------------------------------------------
# hs_ordinal_sem: latent regression, residual covariance, labels and a defined parameter
# ---------------------------------------------------------------------------------------

sem_model <- "
visual  =~ x1 + x2 + x3
textual =~ x4 + x5 + x6
speed   =~ x7 + x8 + x9
speed ~ a*visual + b*textual
x2 ~~ x3
diff := a - b
"

begin_case("hs_ordinal_sem")
fit_sem <- run('sem(sem_model, data = hs_ordinal, ordered = items)')
cases$hs_ordinal_sem <- list(
  calls = .calls, model = sem_model, data = "data/holzinger39_ordinal.csv",
  fit = fit_record(fit_sem), estimates = estimates_record(fit_sem)
)

# ---------------------------------------------------------------------------------------
# hs_ordinal_second_order: latent indicators of a latent, std.lv identification, equality
# ---------------------------------------------------------------------------------------

second_order_model <- "
visual  =~ x1 + x2 + x3
textual =~ x4 + l5*x5 + l5*x6
speed   =~ x7 + x8 + x9
g =~ visual + textual + speed
"

begin_case("hs_ordinal_second_order")
fit_g <- run('cfa(second_order_model, data = hs_ordinal, ordered = items)')
cases$hs_ordinal_second_order <- list(
  calls = .calls, model = second_order_model, data = "data/holzinger39_ordinal.csv",
  fit = fit_record(fit_g), estimates = estimates_record(fit_g)
)

# ---------------------------------------------------------------------------------------
# hs_ordinal_std_lv_listwise: std.lv identification, and rows with missing values
# (lavaan's default for ordered data is listwise deletion)
# ---------------------------------------------------------------------------------------

hs_ord_na <- hs_ordinal
hs_ord_na$x1[c(1, 50, 100)] <- NA
hs_ord_na$x5[c(7, 8, 50)] <- NA
begin_case("hs_ordinal_std_lv_listwise")
fit_na <- run('cfa(hs_model, data = hs_ord_na, ordered = items, std.lv = TRUE)')
cases$hs_ordinal_std_lv_listwise <- list(
  calls = .calls, model = hs_model,
  data = "data/holzinger39_ordinal.csv with x1 missing in rows 1, 50, 100 and x5 in rows 7, 8, 50",
  missing_rows = list(x1 = c(1, 50, 100), x5 = c(7, 8, 50)),
  fit = fit_record(fit_na), estimates = estimates_record(fit_na)
)

begin_case("hs_ordinal_pairwise")
fit_pw <- run('cfa(hs_model, data = hs_ord_na, ordered = items, missing = "pairwise")')
poly_pw <- run('lavCor(hs_ord_na[, items], ordered = items, missing = "pairwise")')
cases$hs_ordinal_pairwise <- list(
  calls = .calls, model = hs_model,
  data = "as hs_ordinal_std_lv_listwise (x1 missing in rows 1, 50, 100; x5 in rows 7, 8, 50)",
  fit = fit_record(fit_pw), estimates = estimates_record(fit_pw),
  polychoric = matrix_record(unclass(poly_pw)),
  gamma_diag = unname(diag(lavInspect(fit_pw, "gamma")))
)

# ---------------------------------------------------------------------------------------
# hs_ordinal7: seven categories with sparse extremes (empty cells in bivariate tables)
# and a binary item; polychorics, thresholds and a WLSMV CFA
# ---------------------------------------------------------------------------------------

cut7 <- function(x) {
  breaks <- quantile(x, c(0.02, 0.08, 0.25, 0.55, 0.85, 0.97), type = 7)
  1L + findInterval(x, breaks, left.open = TRUE)
}
hs7 <- as.data.frame(lapply(hs[, items], cut7))
hs7$x9 <- as.integer(hs$x9 > median(hs$x9)) + 1L
write.csv(hs7, file.path(data_dir, "hs_ordinal7.csv"), row.names = FALSE)

begin_case("hs_ordinal7")
fit7 <- run('cfa(hs_model, data = hs7, ordered = items)')
poly7 <- run('lavCor(hs7, ordered = items)')
th7 <- run('lavCor(hs7, ordered = items, output = "th")')
cases$hs_ordinal7 <- list(
  calls = .calls, model = hs_model, data = "data/hs_ordinal7.csv",
  empty_cells = sum(unlist(lapply(1:8, function(j) lapply((j + 1):9, function(i)
    sum(table(hs7[[j]], hs7[[i]]) == 0))))),
  fit = fit_record(fit7), estimates = estimates_record(fit7),
  polychoric = matrix_record(unclass(poly7)), thresholds = as.list(th7),
  gamma_diag = unname(diag(lavInspect(fit7, "gamma")))
)

# ---------------------------------------------------------------------------------------
# hs_polyserial: continuous x1..x3 (holzinger39.csv) with ordinal x4..x9 (same rows)
# ---------------------------------------------------------------------------------------

mixed <- cbind(hs[, c("x1", "x2", "x3")], hs_ordinal[, paste0("x", 4:9)])
begin_case("hs_polyserial")
poly_mixed <- run('lavCor(mixed, ordered = paste0("x", 4:9))')
cases$hs_polyserial <- list(
  calls = .calls,
  data = "x1..x3 from data/holzinger39.csv, x4..x9 from data/holzinger39_ordinal.csv",
  correlation = matrix_record(unclass(poly_mixed))
)

# ---------------------------------------------------------------------------------------
# binary_zero_cell: 2x2 tables, one with an empty cell (lavaan adds 0.5 keeping the margins)
# ---------------------------------------------------------------------------------------

binary <- data.frame(b1 = as.integer(hs_ordinal$x1 >= 3), b2 = as.integer(hs_ordinal$x1 >= 4),
                     b3 = as.integer(hs_ordinal$x2 >= 3))
begin_case("binary_zero_cell")
poly_binary <- run('lavCor(binary, ordered = names(binary))')
cases$binary_zero_cell <- list(
  calls = .calls,
  data = "b1 = x1 >= 3, b2 = x1 >= 4, b3 = x2 >= 3 from data/holzinger39_ordinal.csv",
  table_b1_b2 = unname(unclass(table(binary$b1, binary$b2))),
  correlation = matrix_record(unclass(poly_binary))
)

record <- list(
  lavaan_version = as.character(packageVersion("lavaan")),
  R_version = R.version.string,
  generated_by = "tests/reference/ordinal_reference.R",
  cases = cases
)
writeLines(toJSON(record, auto_unbox = TRUE, digits = NA, na = "null", pretty = TRUE,
                  dataframe = "rows", null = "null"), out_file)
cat("\nwrote ", out_file, "\n", sep = "")
