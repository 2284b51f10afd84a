# Extra lavaan 0.6 reference numbers for the project's own SEM engine (analysis/sem/engine.py).
#
# Regenerate from the repository root:
#   Rscript tests/reference/engine_reference.R
# Writes tests/reference/engine_reference.json (same layout as lavaan_reference.json).
# R is never a runtime dependency.

suppressPackageStartupMessages({
  library(lavaan)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = FALSE)
script_file <- sub("^--file=", "", args[grep("^--file=", args)])
ref_dir <- if (length(script_file) == 1) dirname(normalizePath(script_file)) else "tests/reference"
data_dir <- file.path(ref_dir, "data")
out_file <- file.path(ref_dir, "engine_reference.json")
source(file.path(ref_dir, "helpers.R"))


FIT_NAMES <- c("npar", "chisq", "df", "pvalue", "baseline.chisq", "baseline.df", "cfi", "tli",
               "rmsea", "rmsea.ci.lower", "rmsea.ci.upper", "srmr", "srmr_bentler_nomean",
               "logl", "unrestricted.logl", "aic", "bic", "ntotal")
fit_record <- function(fit) {
  fm <- fitMeasures(fit)
  keep <- intersect(FIT_NAMES, names(fm))
  as.list(setNames(as.numeric(fm[keep]), keep))
}
estimates_record <- function(fit) {
  pe <- parameterEstimates(fit, standardized = TRUE)
  if (is.null(pe$label)) pe$label <- ""
  cols <- intersect(c("lhs", "op", "rhs", "label", "group", "est", "se", "std.all"), names(pe))
  out <- as.data.frame(pe[, cols])
  rownames(out) <- NULL
  out
}
case_record <- function(fit, model, data, extra = list()) {
  c(list(calls = .calls, model = model, data = data, fit = fit_record(fit),
         estimates = estimates_record(fit)), extra)
}
mi_record <- function(fit, n) {
  mi <- as.data.frame(modindices(fit, sort. = TRUE, maximum.number = n))
  rownames(mi) <- NULL
  mi[, intersect(c("lhs", "op", "rhs", "group", "mi", "epc", "sepc.all"), names(mi))]
}

hs <- read.csv(file.path(data_dir, "holzinger39.csv"))
hs_missing <- read.csv(file.path(data_dir, "holzinger39_missing.csv"))
poldem <- read.csv(file.path(data_dir, "political_democracy.csv"))
cases <- list()

hs_model <- "
visual  =~ x1 + x2 + x3
textual =~ x4 + x5 + x6
speed   =~ x7 + x8 + x9
"

# (a) latent regressions on observed covariates (fixed.x) and a latent mediator
covariate_model <- "
visual  =~ x1 + x2 + x3
textual =~ x4 + x5 + x6
visual ~ ageyr + sex
textual ~ visual + ageyr
"
begin_case("covariates")
fit <- run('sem(covariate_model, data = hs)')
cases$covariates <- case_record(fit, covariate_model, "data/holzinger39.csv",
                                list(modindices = mi_record(fit, 10)))

# (b) observed-variable path model: residual covariance of the two outcomes is automatic
path_model <- "
x4 ~ x1 + x2
x5 ~ x1 + x3
"
begin_case("path")
fit <- run('sem(path_model, data = hs)')
cases$path <- case_record(fit, path_model, "data/holzinger39.csv")

# (c) std.lv identification with a mean structure, NA* and a within-group equality
stdlv_model <- "
visual  =~ x1 + a*x2 + a*x3
textual =~ x4 + x5 + x6
speed   =~ x7 + x8 + x9
"
begin_case("std_lv")
fit <- run('cfa(stdlv_model, data = hs, std.lv = TRUE, meanstructure = TRUE)')
cases$std_lv <- case_record(fit, stdlv_model, "data/holzinger39.csv")

# (d) second-order factor
second_model <- "
visual  =~ x1 + x2 + x3
textual =~ x4 + x5 + x6
speed   =~ x7 + x8 + x9
g =~ visual + textual + speed
"
begin_case("second_order")
fit <- run('cfa(second_model, data = hs)')
cases$second_order <- case_record(fit, second_model, "data/holzinger39.csv")

# (e) multigroup with per-group labels, a defined parameter and group.partial
mg_model <- "
visual  =~ x1 + c(v2a, v2b)*x2 + x3
textual =~ x4 + x5 + x6
speed   =~ x7 + x8 + x9
diff := v2a - v2b
"
begin_case("multigroup_partial")
fit <- run('cfa(mg_model, data = hs, group = "school", group.equal = c("loadings", "intercepts"), group.partial = c("x3 ~ 1", "speed =~ x9"))')
cases$multigroup_partial <- case_record(fit, mg_model, "data/holzinger39.csv",
                                        list(modindices = mi_record(fit, 10)))

# (f) multigroup FIML, metric invariance
begin_case("fiml_multigroup")
fit <- run('cfa(hs_model, data = hs_missing, group = "school", group.equal = "loadings", missing = "fiml")')
cases$fiml_multigroup <- case_record(fit, hs_model, "data/holzinger39_missing.csv")

# (g) FIML with a complete exogenous covariate
fiml_cov_model <- "
visual  =~ x1 + x2 + x3
textual =~ x4 + x5 + x6
visual ~ ageyr
"
begin_case("fiml_covariate")
fit <- run('sem(fiml_cov_model, data = hs_missing, missing = "fiml")')
cases$fiml_covariate <- case_record(fit, fiml_cov_model, "data/holzinger39_missing.csv")

# (g2) FIML: modification indices and expected-information standard errors
begin_case("fiml_extras")
fit <- run('cfa(hs_model, data = hs_missing, missing = "fiml")')
fit_expected <- run('cfa(hs_model, data = hs_missing, missing = "fiml", information = "expected")')
cases$fiml_extras <- list(calls = .calls, model = hs_model, data = "data/holzinger39_missing.csv",
                          modindices = mi_record(fit, 10), estimates_expected = estimates_record(fit_expected))

# (h) information matrices, Delta and casewise scores of the HS CFA (for robust.py)
begin_case("hs_information")
fit <- run('cfa(hs_model, data = hs)')
fit_ms <- run('cfa(hs_model, data = hs, meanstructure = TRUE)')
scores <- run('lavScores(fit_ms)')
cases$hs_information <- list(
  calls = .calls, model = hs_model, data = "data/holzinger39.csv",
  information_expected = unname(unclass(lavInspect(fit, "information.expected"))),
  information_observed = unname(unclass(lavInspect(fit, "information.observed"))),
  delta = unname(unclass(lavInspect(fit, "delta"))),
  scores_meanstructure_first5 = unname(scores[1:5, ]),
  scores_meanstructure_colsum_sq = unname(colSums(scores^2))
)

# (i) poldem modification indices and a nested comparison
poldem_model <- "
ind60 =~ x1 + x2 + x3
dem60 =~ y1 + y2 + y3 + y4
dem65 =~ y5 + y6 + y7 + y8
dem60 ~ ind60
dem65 ~ ind60 + dem60
y1 ~~ y5
y2 ~~ y4 + y6
y3 ~~ y7
y4 ~~ y8
y6 ~~ y8
"
begin_case("poldem_modindices")
fit_pd <- run('sem(poldem_model, data = poldem)')
cases$poldem_modindices <- list(calls = .calls, model = poldem_model, data = "data/political_democracy.csv",
                                modindices = mi_record(fit_pd, 15))

begin_case("nested_lrt")
fit_a <- run('cfa(hs_model, data = hs)')
fit_b <- run('cfa(paste(hs_model, "x7 ~~ x8"), data = hs)')
lrt <- run('lavTestLRT(fit_b, fit_a)')
cases$nested_lrt <- list(calls = .calls, model = hs_model, free_model = paste(hs_model, "x7 ~~ x8"),
                         data = "data/holzinger39.csv",
                         lrt = data.frame(df = lrt$Df, aic = lrt$AIC, bic = lrt$BIC, chisq = lrt$Chisq,
                                          chisq_diff = lrt[["Chisq diff"]], df_diff = lrt[["Df diff"]],
                                          pvalue = lrt[["Pr(>Chisq)"]]))

record <- list(lavaan_version = as.character(packageVersion("lavaan")), R_version = R.version.string,
               generated_by = "tests/reference/engine_reference.R", cases = cases)
writeLines(toJSON(record, auto_unbox = TRUE, digits = NA, na = "null", pretty = TRUE,
                  dataframe = "rows", null = "null"), out_file)
cat("\nwrote ", out_file, "\n", sep = "")
