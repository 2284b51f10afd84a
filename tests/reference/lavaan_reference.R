# Reference numbers for the Python SEM layer (parity tests), computed with lavaan 0.6.
#
# Regenerate from the repository root:
#   .venv/bin/python tests/reference/export_data.py
#   Rscript tests/reference/lavaan_reference.R
# Writes tests/reference/lavaan_reference.json. R is never a runtime dependency.

suppressPackageStartupMessages({
  library(lavaan)
  library(semTools)
  library(psych)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = FALSE)
script_file <- sub("^--file=", "", args[grep("^--file=", args)])
ref_dir <- if (length(script_file) == 1) dirname(normalizePath(script_file)) else "tests/reference"
data_dir <- file.path(ref_dir, "data")
out_file <- file.path(ref_dir, "lavaan_reference.json")
source(file.path(ref_dir, "helpers.R"))

# ---------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------




FIT_NAMES <- c(
  "npar", "fmin", "chisq", "df", "pvalue", "baseline.chisq", "baseline.df", "baseline.pvalue",
  "cfi", "tli", "rmsea", "rmsea.ci.lower", "rmsea.ci.upper", "rmsea.pvalue",
  "srmr", "srmr_bentler", "srmr_bentler_nomean", "crmr", "crmr_nomean",
  "logl", "unrestricted.logl", "aic", "bic", "bic2", "ntotal",
  "chisq.scaled", "df.scaled", "pvalue.scaled", "chisq.scaling.factor",
  "baseline.chisq.scaled", "baseline.df.scaled", "baseline.chisq.scaling.factor",
  "cfi.scaled", "tli.scaled", "rmsea.scaled", "rmsea.ci.lower.scaled", "rmsea.ci.upper.scaled",
  "cfi.robust", "tli.robust", "rmsea.robust", "rmsea.ci.lower.robust", "rmsea.ci.upper.robust",
  "srmr_bentler", "wrmr"
)

fit_record <- function(fit) {
  fm <- fitMeasures(fit)
  keep <- unique(intersect(FIT_NAMES, names(fm)))
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
  cols <- intersect(cols, names(pe))
  out <- as.data.frame(pe[, cols])
  rownames(out) <- NULL
  out
}

matrix_record <- function(m) {
  list(rownames = rownames(m), colnames = colnames(m), values = unname(unclass(m)))
}

cases <- list()

# ---------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------

hs <- read.csv(file.path(data_dir, "holzinger39.csv"))
hs_missing <- read.csv(file.path(data_dir, "holzinger39_missing.csv"))
hs_ordinal <- read.csv(file.path(data_dir, "holzinger39_ordinal.csv"))
poldem <- read.csv(file.path(data_dir, "political_democracy.csv"))
items <- paste0("x", 1:9)

# semopy's copy must equal lavaan's HolzingerSwineford1939 on x1..x9 and school
stopifnot(identical(as.matrix(hs[, items]), as.matrix(HolzingerSwineford1939[, items])))
stopifnot(identical(hs$school, as.character(HolzingerSwineford1939$school)))

hs_model <- "
visual  =~ x1 + x2 + x3
textual =~ x4 + x5 + x6
speed   =~ x7 + x8 + x9
"

# semopy.examples.political_democracy.get_model(), plus labels a, b and ind := a*b
poldem_model <- "
ind60 =~ x1 + x2 + x3
dem60 =~ y1 + y2 + y3 + y4
dem65 =~ y5 + y6 + y7 + y8
dem60 ~ a*ind60
dem65 ~ ind60 + b*dem60
y1 ~~ y5
y2 ~~ y4 + y6
y3 ~~ y7
y4 ~~ y8
y6 ~~ y8
ind := a*b
"

# ---------------------------------------------------------------------------------------
# (a) hs_cfa
# ---------------------------------------------------------------------------------------

begin_case("hs_cfa")
fit_hs <- run('cfa(hs_model, data = hs)')
n_hs <- lavInspect(fit_hs, "ntotal")
fmin_hs <- fitMeasures(fit_hs, "fmin")
chisq_hs <- fitMeasures(fit_hs, "chisq")
fit_hs_wishart <- run('cfa(hs_model, data = hs, likelihood = "wishart")')
cases$hs_cfa <- list(
  calls = .calls,
  model = hs_model,
  data = "data/holzinger39.csv",
  fit = fit_record(fit_hs),
  estimates = estimates_record(fit_hs),
  # lavaan's default ML (likelihood = "normal") uses chisq = 2 * N * fmin with N, not N - 1
  chisq_multiplier = unname(chisq_hs / (2 * fmin_hs)),
  chisq_uses = if (abs(chisq_hs / (2 * fmin_hs) - n_hs) < 1e-6) "N" else "N-1",
  fit_wishart = fit_record(fit_hs_wishart),
  implied_cov = matrix_record(lavInspect(fit_hs, "implied")$cov),
  sample_cov = matrix_record(lavInspect(fit_hs, "sampstat")$cov)
)

# ---------------------------------------------------------------------------------------
# (b) poldem_sem
# ---------------------------------------------------------------------------------------

begin_case("poldem_sem")
fit_pd <- run('sem(poldem_model, data = poldem)')
cases$poldem_sem <- list(
  calls = .calls,
  model = poldem_model,
  data = "data/political_democracy.csv",
  fit = fit_record(fit_pd),
  estimates = estimates_record(fit_pd),
  r2 = as.list(inspect(fit_pd, "r2"))
)

# ---------------------------------------------------------------------------------------
# (c) hs_mlr
# ---------------------------------------------------------------------------------------

begin_case("hs_mlr")
fit_mlr <- run('cfa(hs_model, data = hs, estimator = "MLR")')
cases$hs_mlr <- list(
  calls = .calls,
  model = hs_model,
  data = "data/holzinger39.csv",
  fit = fit_record(fit_mlr),
  estimates = estimates_record(fit_mlr)
)

# ---------------------------------------------------------------------------------------
# (d) hs_fiml
# ---------------------------------------------------------------------------------------

begin_case("hs_fiml")
fit_fiml <- run('cfa(hs_model, data = hs_missing, missing = "fiml")')
cases$hs_fiml <- list(
  calls = .calls,
  model = hs_model,
  data = "data/holzinger39_missing.csv",
  n_missing_cells = sum(is.na(hs_missing[, items])),
  fit = fit_record(fit_fiml),
  estimates = estimates_record(fit_fiml)
)

# ---------------------------------------------------------------------------------------
# (e) hs_ordinal
# ---------------------------------------------------------------------------------------

begin_case("hs_ordinal")
fit_ord <- run('cfa(hs_model, data = hs_ordinal, ordered = paste0("x", 1:9))')
polychoric <- run('lavCor(hs_ordinal[, paste0("x", 1:9)], ordered = paste0("x", 1:9))')
thresholds <- run('lavCor(hs_ordinal[, paste0("x", 1:9)], ordered = paste0("x", 1:9), output = "th")')
cases$hs_ordinal <- list(
  calls = .calls,
  model = hs_model,
  data = "data/holzinger39_ordinal.csv",
  # lavaan's default for ordered data is "WLSMV": DWLS estimates, robust.sem standard
  # errors and a mean-and-variance adjusted (scaled.shifted) test
  estimator = lavInspect(fit_ord, "options")$estimator,
  se = lavInspect(fit_ord, "options")$se,
  test = lavInspect(fit_ord, "options")$test,
  parameterization = lavInspect(fit_ord, "options")$parameterization,
  fit = fit_record(fit_ord),
  estimates = estimates_record(fit_ord),
  polychoric = matrix_record(unclass(polychoric)),
  thresholds = as.list(thresholds)
)

# ---------------------------------------------------------------------------------------
# (f) hs_invariance
# ---------------------------------------------------------------------------------------

begin_case("hs_invariance")
fit_configural <- run('cfa(hs_model, data = hs, group = "school")')
fit_metric <- run('cfa(hs_model, data = hs, group = "school", group.equal = "loadings")')
fit_scalar <- run('cfa(hs_model, data = hs, group = "school", group.equal = c("loadings", "intercepts"))')
fit_strict <- run('cfa(hs_model, data = hs, group = "school", group.equal = c("loadings", "intercepts", "residuals"))')
lrt <- run('lavTestLRT(fit_configural, fit_metric, fit_scalar, fit_strict)')
lrt_df <- data.frame(
  model = c("configural", "metric", "scalar", "strict"),
  df = lrt$Df, aic = lrt$AIC, bic = lrt$BIC, chisq = lrt$Chisq,
  chisq_diff = lrt[["Chisq diff"]], df_diff = lrt[["Df diff"]], pvalue = lrt[["Pr(>Chisq)"]]
)
cases$hs_invariance <- list(
  calls = .calls,
  model = hs_model,
  data = "data/holzinger39.csv",
  group = "school",
  group_labels = lavInspect(fit_configural, "group.label"),
  steps = list(
    configural = list(fit = fit_record(fit_configural), estimates = estimates_record(fit_configural)),
    metric = list(fit = fit_record(fit_metric), estimates = estimates_record(fit_metric)),
    scalar = list(fit = fit_record(fit_scalar), estimates = estimates_record(fit_scalar)),
    strict = list(fit = fit_record(fit_strict), estimates = estimates_record(fit_strict))
  ),
  lrt = lrt_df
)

# ---------------------------------------------------------------------------------------
# (g) hs_modindices
# ---------------------------------------------------------------------------------------

begin_case("hs_modindices")
mi <- run('modindices(fit_hs, sort. = TRUE, maximum.number = 20)')
mi <- as.data.frame(mi)
rownames(mi) <- NULL
cases$hs_modindices <- list(
  calls = c('fit_hs <- cfa(hs_model, data = hs)', .calls),
  modindices = mi
)

# ---------------------------------------------------------------------------------------
# (h) hs_reliability
# ---------------------------------------------------------------------------------------

begin_case("hs_reliability")
omega <- run('compRelSEM(fit_hs)')
ave <- run('AVE(fit_hs)')
htmt_matrix <- run('htmt(hs_model, data = hs)')
# psych::alpha prints a harmless note about counting response frequencies of continuous items
alpha_visual <- run('psych::alpha(hs[, c("x1", "x2", "x3")])$total$raw_alpha')
alpha_textual <- run('psych::alpha(hs[, c("x4", "x5", "x6")])$total$raw_alpha')
alpha_speed <- run('psych::alpha(hs[, c("x7", "x8", "x9")])$total$raw_alpha')
alpha_std_visual <- run('psych::alpha(hs[, c("x1", "x2", "x3")])$total$std.alpha')
alpha_std_textual <- run('psych::alpha(hs[, c("x4", "x5", "x6")])$total$std.alpha')
alpha_std_speed <- run('psych::alpha(hs[, c("x7", "x8", "x9")])$total$std.alpha')
cases$hs_reliability <- list(
  calls = c('fit_hs <- cfa(hs_model, data = hs)', .calls),
  omega = as.list(omega),
  ave = as.list(ave),
  htmt = matrix_record(unclass(htmt_matrix)),
  alpha_raw = list(visual = alpha_visual, textual = alpha_textual, speed = alpha_speed),
  alpha_std = list(visual = alpha_std_visual, textual = alpha_std_textual, speed = alpha_std_speed)
)

# ---------------------------------------------------------------------------------------
# (i) poldem_bootstrap: bootstrap is random in R, so only the ML estimate and delta-method
# SE of the indirect effect ind = a*b are recorded (taken from the poldem_sem fit).
# ---------------------------------------------------------------------------------------

begin_case("poldem_bootstrap")
pe_pd <- run('parameterEstimates(fit_pd, standardized = TRUE)')
ind_row <- pe_pd[pe_pd$op == ":=" & pe_pd$lhs == "ind", ]
cases$poldem_bootstrap <- list(
  calls = c('fit_pd <- sem(poldem_model, data = poldem)', .calls),
  indirect = list(
    name = "ind", definition = "a*b", from = "ind60", via = "dem60", to = "dem65",
    est = ind_row$est, se_delta = ind_row$se, z = ind_row$z, pvalue = ind_row$pvalue,
    ci_lower_delta = ind_row$ci.lower, ci_upper_delta = ind_row$ci.upper,
    std_all = ind_row$std.all
  )
)

# ---------------------------------------------------------------------------------------
# write
# ---------------------------------------------------------------------------------------

record <- list(
  lavaan_version = as.character(packageVersion("lavaan")),
  semTools_version = as.character(packageVersion("semTools")),
  psych_version = as.character(packageVersion("psych")),
  jsonlite_version = as.character(packageVersion("jsonlite")),
  R_version = R.version.string,
  generated_by = "tests/reference/lavaan_reference.R",
  cases = cases
)
writeLines(toJSON(record, auto_unbox = TRUE, digits = NA, na = "null", pretty = TRUE,
                  dataframe = "rows", null = "null"), out_file)
cat("\nwrote ", out_file, "\n", sep = "")
