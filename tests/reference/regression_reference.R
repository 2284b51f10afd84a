# lavaan 0.6 reference numbers for regression tests of the project's SEM layer: latent
# growth written out with sem(), std.lv written out by hand, equality and inequality
# constraints, observed and latent mediation with an observed exogenous predictor (psych's
# bfi), ordinal WLSMV with a reverse-keyed first item, and HS with MLR / FIML.
#
# Regenerate from the repository root:
#   Rscript tests/reference/regression_reference.R
# Writes tests/reference/regression_reference.json and (exported from R packages)
#   tests/reference/data/demo_growth.csv  lavaan::Demo.growth (all 10 columns, N = 400)
#   tests/reference/data/bfi.csv          psych::bfi (all 28 columns, N = 2800, NA = empty field)
#   tests/reference/data/bfi_scales.csv   gender, agree, extra derived from bfi (case
#                                         bfi_mediation_observed)
# Reads tests/reference/data/holzinger39.csv and holzinger39_missing.csv.
# R is never a runtime dependency.
#
# Cases
#   growth_demo              sem() with the linear growth model spelled out (also growth()
#                            with the short syntax: same chisq)
#   growth_demo_covariates   the same with i ~ x1 + x2, s ~ x1 + x2 (fixed.x)
#   hs_stdlv_written_out     NA* first loadings and factor variances fixed at 1 by hand
#   hs_equality              textual loadings of x5 and x6 labelled and set equal (t5 == t6)
#   hs_inequality            residual variance of x1 bounded below (v1 > 0.6), bound is active
#   bfi_mediation_observed   observed path model agree ~ gender, extra ~ agree + gender (df 0)
#   bfi_mediation_latent     latent A and E, A ~ gender, E ~ A + gender, ind := a*b
#   bfi_wlsmv_reverse_first  one-factor WLSMV on A1..A5 (reverse-keyed A1 first)
#   bfi_wlsmv_two_factor     two-factor WLSMV on A1..A5, C1..C5
#   hs_mlr, hs_fiml          standard HS CFA with estimator = "MLR" / missing = "fiml" (the
#                            same calls as in lavaan_reference.R, here with the
#                            standardized solution and convergence flag as well)

suppressPackageStartupMessages({
  library(lavaan)
  library(psych)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = FALSE)
script_file <- sub("^--file=", "", args[grep("^--file=", args)])
ref_dir <- if (length(script_file) == 1) dirname(normalizePath(script_file)) else "tests/reference"
data_dir <- file.path(ref_dir, "data")
out_file <- file.path(ref_dir, "regression_reference.json")
source(file.path(ref_dir, "helpers.R"))

# ---------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------

FIT_NAMES <- c(
  "npar", "chisq", "df", "pvalue", "baseline.chisq", "baseline.df",
  "cfi", "tli", "rmsea", "rmsea.ci.lower", "rmsea.ci.upper", "srmr",
  "logl", "unrestricted.logl", "aic", "bic", "ntotal",
  "chisq.scaled", "df.scaled", "pvalue.scaled", "chisq.scaling.factor",
  "baseline.chisq.scaled", "baseline.df.scaled",
  "cfi.scaled", "tli.scaled", "rmsea.scaled", "rmsea.ci.lower.scaled", "rmsea.ci.upper.scaled",
  "cfi.robust", "tli.robust", "rmsea.robust", "rmsea.ci.lower.robust", "rmsea.ci.upper.robust"
)

fit_record <- function(fit) {
  fm <- fitMeasures(fit)
  keep <- intersect(FIT_NAMES, names(fm))
  out <- as.list(setNames(as.numeric(fm[keep]), keep))
  # fitMeasures() omits ntotal for (D)WLS fits; take it from the fit object instead
  if (is.null(out$ntotal)) out$ntotal <- lavInspect(fit, "ntotal")
  out
}

estimates_record <- function(fit) {
  pe <- parameterEstimates(fit, standardized = TRUE)
  if (is.null(pe$label)) pe$label <- ""
  cols <- c("lhs", "op", "rhs", "label", "group", "est", "se", "z", "pvalue",
            "ci.lower", "ci.upper", "std.lv", "std.all")
  out <- as.data.frame(pe[, intersect(cols, names(pe))])
  rownames(out) <- NULL
  out
}

std_solution_record <- function(fit) {
  ss <- standardizedSolution(fit)
  if (is.null(ss$label)) ss$label <- ""
  cols <- c("lhs", "op", "rhs", "label", "group", "est.std", "se", "z", "pvalue",
            "ci.lower", "ci.upper")
  out <- as.data.frame(ss[, intersect(cols, names(ss))])
  rownames(out) <- NULL
  out
}

options_record <- function(fit) {
  opts <- lavInspect(fit, "options")
  list(estimator = opts$estimator, se = opts$se, test = opts$test,
       information = opts$information[1], missing = opts$missing,
       meanstructure = opts$meanstructure, fixed.x = opts$fixed.x,
       std.lv = opts$std.lv, parameterization = opts$parameterization)
}

# warnings raised while fitting are printed and stored with the case (empty list if none)
.warnings <- character(0)
run_w <- function(code) {
  withCallingHandlers(run(code), warning = function(w) {
    cat("  ! warning: ", conditionMessage(w), "\n", sep = "")
    .warnings <<- c(.warnings, conditionMessage(w))
    invokeRestart("muffleWarning")
  })
}
start_case <- function(name) {
  begin_case(name)
  .warnings <<- character(0)
}

case_record <- function(fit, model, call, data, extra = list()) {
  c(list(calls = .calls, model = model, call = call, data = data,
         n = lavInspect(fit, "ntotal"), converged = lavInspect(fit, "converged"),
         options = options_record(fit), warnings = I(.warnings),
         fit = fit_record(fit), estimates = estimates_record(fit),
         std_solution = std_solution_record(fit)), extra)
}

# Doubles as text with 17 significant digits (C sprintf, correctly rounded), which any
# correctly rounding parser (Python's float(), pandas' round-trip parser) maps back to the
# same double. Shorter strings are not used: R's own parser is not always correctly
# rounded, so a 15/16-digit string that R reads back exactly can still differ by one ulp in
# Python (seen for Demo.growth). Integers are written as they are, NA as an empty field.
exact_text <- function(x) {
  if (!is.double(x)) return(ifelse(is.na(x), "", as.character(x)))
  out <- sprintf("%.17g", x)
  out[is.na(x)] <- ""
  out
}

# Write a numeric data frame as CSV (plain header, NA = empty field) and check that R's
# read.csv() gives back exactly the same numbers.
write_exact_csv <- function(df, file) {
  stopifnot(all(vapply(df, is.numeric, logical(1))))
  txt <- as.data.frame(lapply(df, exact_text), stringsAsFactors = FALSE)
  write.csv(txt, file, row.names = FALSE, quote = FALSE, na = "")
  back <- read.csv(file)
  plain <- df
  rownames(plain) <- NULL
  stopifnot(identical(back, plain))
  invisible(back)
}

cases <- list()

# ---------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------

hs <- read.csv(file.path(data_dir, "holzinger39.csv"))
hs_missing <- read.csv(file.path(data_dir, "holzinger39_missing.csv"))
items <- paste0("x", 1:9)
stopifnot(identical(as.matrix(hs[, items]), as.matrix(HolzingerSwineford1939[, items])))

# lavaan::Demo.growth and psych::bfi, exported so that Python reads the same numbers; the
# fits below use the CSV copies (asserted identical to the package objects)
demo_growth <- write_exact_csv(Demo.growth, file.path(data_dir, "demo_growth.csv"))
bfi_data <- write_exact_csv(psych::bfi, file.path(data_dir, "bfi.csv"))

hs_model <- "
visual  =~ x1 + x2 + x3
textual =~ x4 + x5 + x6
speed   =~ x7 + x8 + x9
"

# ---------------------------------------------------------------------------------------
# (1) growth_demo: linear growth spelled out for sem(); growth() with the short syntax
# ---------------------------------------------------------------------------------------

growth_model <- "
i =~ 1*t1 + 1*t2 + 1*t3 + 1*t4
s =~ 0*t1 + 1*t2 + 2*t3 + 3*t4
i ~ 1
s ~ 1
t1 ~ 0*1
t2 ~ 0*1
t3 ~ 0*1
t4 ~ 0*1
"
growth_short <- "
i =~ 1*t1 + 1*t2 + 1*t3 + 1*t4
s =~ 0*t1 + 1*t2 + 2*t3 + 3*t4
"

start_case("growth_demo")
fit <- run_w('sem(growth_model, data = demo_growth)')
fit_growth <- run_w('growth(growth_short, data = demo_growth)')
cases$growth_demo <- case_record(
  fit, growth_model, "sem(growth_model, data = demo_growth)", "data/demo_growth.csv",
  list(growth_check = list(
    model = growth_short, call = "growth(growth_short, data = demo_growth)",
    chisq_sem = unname(fitMeasures(fit, "chisq")), chisq_growth = unname(fitMeasures(fit_growth, "chisq")),
    df_sem = unname(fitMeasures(fit, "df")), df_growth = unname(fitMeasures(fit_growth, "df")),
    same_chisq = isTRUE(all.equal(unname(fitMeasures(fit, "chisq")),
                                  unname(fitMeasures(fit_growth, "chisq")), tolerance = 1e-8)))))

# ---------------------------------------------------------------------------------------
# (2) growth_demo_covariates: intercept and slope regressed on observed x1, x2 (fixed.x)
# ---------------------------------------------------------------------------------------

growth_cov_model <- paste0(growth_model, "i ~ x1 + x2\ns ~ x1 + x2\n")
growth_cov_short <- paste0(growth_short, "i ~ x1 + x2\ns ~ x1 + x2\n")

start_case("growth_demo_covariates")
fit <- run_w('sem(growth_cov_model, data = demo_growth)')
fit_growth <- run_w('growth(growth_cov_short, data = demo_growth)')
cases$growth_demo_covariates <- case_record(
  fit, growth_cov_model, "sem(growth_cov_model, data = demo_growth)", "data/demo_growth.csv",
  list(growth_check = list(
    model = growth_cov_short, call = "growth(growth_cov_short, data = demo_growth)",
    chisq_sem = unname(fitMeasures(fit, "chisq")), chisq_growth = unname(fitMeasures(fit_growth, "chisq")),
    df_sem = unname(fitMeasures(fit, "df")), df_growth = unname(fitMeasures(fit_growth, "df")),
    same_chisq = isTRUE(all.equal(unname(fitMeasures(fit, "chisq")),
                                  unname(fitMeasures(fit_growth, "chisq")), tolerance = 1e-8)))))

# ---------------------------------------------------------------------------------------
# (3) hs_stdlv_written_out: std.lv identification written into the syntax
# ---------------------------------------------------------------------------------------

stdlv_model <- "
visual  =~ NA*x1 + x2 + x3
textual =~ NA*x4 + x5 + x6
speed   =~ NA*x7 + x8 + x9
visual  ~~ 1*visual
textual ~~ 1*textual
speed   ~~ 1*speed
"

# largest |est| difference between two fits over the parameters they share (matched by
# lhs, op, rhs, since the two parameter tables list rows in a different order)
max_abs_est_diff <- function(fit1, fit2) {
  m <- merge(parameterEstimates(fit1)[, c("lhs", "op", "rhs", "est")],
             parameterEstimates(fit2)[, c("lhs", "op", "rhs", "est")], by = c("lhs", "op", "rhs"))
  stopifnot(nrow(m) == nrow(parameterEstimates(fit1)))
  max(abs(m$est.x - m$est.y))
}

start_case("hs_stdlv_written_out")
fit <- run_w('cfa(stdlv_model, data = hs)')
fit_stdlv <- run_w('cfa(hs_model, data = hs, std.lv = TRUE)')
cases$hs_stdlv_written_out <- case_record(
  fit, stdlv_model, "cfa(stdlv_model, data = hs)", "data/holzinger39.csv",
  list(stdlv_option_check = list(
    call = "cfa(hs_model, data = hs, std.lv = TRUE)",
    chisq = unname(fitMeasures(fit_stdlv, "chisq")), df = unname(fitMeasures(fit_stdlv, "df")),
    max_abs_est_diff = max_abs_est_diff(fit, fit_stdlv))))

# ---------------------------------------------------------------------------------------
# (4) hs_equality: labelled loadings with an explicit equality constraint
# ---------------------------------------------------------------------------------------

equality_model <- "
visual  =~ x1 + x2 + x3
textual =~ x4 + t5*x5 + t6*x6
speed   =~ x7 + x8 + x9
t5 == t6
"

start_case("hs_equality")
fit <- run_w('cfa(equality_model, data = hs)')
cases$hs_equality <- case_record(fit, equality_model, "cfa(equality_model, data = hs)",
                                 "data/holzinger39.csv")

# ---------------------------------------------------------------------------------------
# (5) hs_inequality: lower bound on the residual variance of x1 that binds
# (unconstrained ML estimate 0.549 < 0.6)
# ---------------------------------------------------------------------------------------

inequality_bound <- 0.6
inequality_model <- "
visual  =~ x1 + x2 + x3
textual =~ x4 + x5 + x6
speed   =~ x7 + x8 + x9
x1 ~~ v1*x1
v1 > 0.6
"

start_case("hs_inequality")
fit_free <- run_w('cfa(hs_model, data = hs)')
fit <- run_w('cfa(inequality_model, data = hs)')
pe_free <- parameterEstimates(fit_free)
v1_free <- pe_free$est[pe_free$lhs == "x1" & pe_free$op == "~~" & pe_free$rhs == "x1"]
pe_bound <- parameterEstimates(fit)
v1_est <- pe_bound$est[pe_bound$label == "v1"]
stopifnot(v1_free < inequality_bound, abs(v1_est - inequality_bound) < 1e-6)
cases$hs_inequality <- case_record(
  fit, inequality_model, "cfa(inequality_model, data = hs)", "data/holzinger39.csv",
  list(inequality = list(label = "v1", parameter = "x1 ~~ x1", bound = inequality_bound,
                         unconstrained_est = v1_free, est = v1_est,
                         binds = abs(v1_est - inequality_bound) < 1e-6,
                         optim_method = lavInspect(fit, "options")$optim.method,
                         unconstrained_chisq = unname(fitMeasures(fit_free, "chisq")))))

# ---------------------------------------------------------------------------------------
# (6) bfi_mediation_observed: scale means, observed path model with gender exogenous
# ---------------------------------------------------------------------------------------

med_obs_model <- "
agree ~ a*gender
extra ~ b*agree + c*gender
ind := a*b
total := c + a*b
"

start_case("bfi_mediation_observed")
run('bfi_ae <- bfi_data[complete.cases(bfi_data[, c(paste0("A", 1:5), paste0("E", 1:5), "gender")]), ]')
run('bfi_scales <- data.frame(gender = bfi_ae$gender, agree = rowMeans(cbind(7 - bfi_ae$A1, bfi_ae[, c("A2", "A3", "A4", "A5")])), extra = rowMeans(cbind(7 - bfi_ae$E1, 7 - bfi_ae$E2, bfi_ae[, c("E3", "E4", "E5")])))')
bfi_scales <- write_exact_csv(bfi_scales, file.path(data_dir, "bfi_scales.csv"))
fit <- run_w('sem(med_obs_model, data = bfi_scales)')
cases$bfi_mediation_observed <- case_record(
  fit, med_obs_model, "sem(med_obs_model, data = bfi_scales)", "data/bfi_scales.csv",
  list(derived_from = "data/bfi.csv, rows complete on A1..A5, E1..E5, gender",
       n_complete = nrow(bfi_scales)))

# ---------------------------------------------------------------------------------------
# (7) bfi_mediation_latent: latent A and E with gender as observed exogenous predictor
# ---------------------------------------------------------------------------------------

med_lat_model <- "
A =~ A2 + A1 + A3 + A4 + A5
E =~ E3 + E1 + E2 + E4 + E5
A ~ a*gender
E ~ b*A + c*gender
ind := a*b
"

start_case("bfi_mediation_latent")
run('bfi_ae <- bfi_data[complete.cases(bfi_data[, c(paste0("A", 1:5), paste0("E", 1:5), "gender")]), ]')
fit <- run_w('sem(med_lat_model, data = bfi_ae)')
cases$bfi_mediation_latent <- case_record(
  fit, med_lat_model, "sem(med_lat_model, data = bfi_ae)",
  "data/bfi.csv, rows complete on A1..A5, E1..E5, gender")

# ---------------------------------------------------------------------------------------
# (8) ordinal WLSMV, reverse-keyed item first; and a two-factor version
# ---------------------------------------------------------------------------------------

wlsmv1_model <- "
A =~ A1 + A2 + A3 + A4 + A5
"
start_case("bfi_wlsmv_reverse_first")
run('bfi_a <- bfi_data[complete.cases(bfi_data[, paste0("A", 1:5)]), ]')
fit <- run_w('cfa(wlsmv1_model, data = bfi_a, ordered = c("A1", "A2", "A3", "A4", "A5"), estimator = "WLSMV")')
cases$bfi_wlsmv_reverse_first <- case_record(
  fit, wlsmv1_model,
  'cfa(wlsmv1_model, data = bfi_a, ordered = c("A1", "A2", "A3", "A4", "A5"), estimator = "WLSMV")',
  "data/bfi.csv, rows complete on A1..A5")

wlsmv2_model <- "
A =~ A1 + A2 + A3 + A4 + A5
C =~ C1 + C2 + C3 + C4 + C5
"
start_case("bfi_wlsmv_two_factor")
run('bfi_ac <- bfi_data[complete.cases(bfi_data[, c(paste0("A", 1:5), paste0("C", 1:5))]), ]')
fit <- run_w('cfa(wlsmv2_model, data = bfi_ac, ordered = c(paste0("A", 1:5), paste0("C", 1:5)), estimator = "WLSMV")')
cases$bfi_wlsmv_two_factor <- case_record(
  fit, wlsmv2_model,
  'cfa(wlsmv2_model, data = bfi_ac, ordered = c(paste0("A", 1:5), paste0("C", 1:5)), estimator = "WLSMV")',
  "data/bfi.csv, rows complete on A1..A5, C1..C5")

# ---------------------------------------------------------------------------------------
# (9) hs_mlr and hs_fiml (same calls as lavaan_reference.R; engine_reference.R has neither)
# ---------------------------------------------------------------------------------------

start_case("hs_mlr")
fit <- run_w('cfa(hs_model, data = hs, estimator = "MLR")')
cases$hs_mlr <- case_record(fit, hs_model, 'cfa(hs_model, data = hs, estimator = "MLR")',
                            "data/holzinger39.csv")

start_case("hs_fiml")
fit <- run_w('cfa(hs_model, data = hs_missing, missing = "fiml")')
cases$hs_fiml <- case_record(fit, hs_model, 'cfa(hs_model, data = hs_missing, missing = "fiml")',
                             "data/holzinger39_missing.csv",
                             list(n_missing_cells = sum(is.na(hs_missing[, items]))))

# ---------------------------------------------------------------------------------------
# write
# ---------------------------------------------------------------------------------------

record <- list(
  lavaan_version = as.character(packageVersion("lavaan")),
  psych_version = as.character(packageVersion("psych")),
  jsonlite_version = as.character(packageVersion("jsonlite")),
  R_version = R.version.string,
  generated_by = "tests/reference/regression_reference.R",
  cases = cases
)
writeLines(toJSON(record, auto_unbox = TRUE, digits = NA, na = "null", pretty = TRUE,
                  dataframe = "rows", null = "null"), out_file)
cat("\nwrote ", out_file, "\n", sep = "")
