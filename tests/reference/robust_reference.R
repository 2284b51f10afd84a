# Reference numbers for analysis/sem/robust.py and analysis/sem/compare.py (lavaan 0.6).
#
# Regenerate from the repository root (data files come from tests/reference/export_data.py):
#   Rscript tests/reference/robust_reference.R
# Writes tests/reference/robust_reference.json. R is never a runtime dependency.
#
# Cases
#   hs_mlr               cfa(hs_model, estimator = "MLR"): Huber-White SEs, Yuan-Bentler (Mplus)
#                        scaled test, scaled and robust CFI/TLI/RMSEA, trace of UGamma
#   hs_mlr_meanstructure the same with meanstructure = TRUE (intercept SEs, same test)
#   hs_mlr_configural    cfa(hs_model, group = "school", estimator = "MLR"): two groups, means
#   poldem_mlr           sem(poldem_model, estimator = "MLR"): regressions + residual covariances
#   comparison           three nested HS models (textual loadings x5 = x6 equal / HS / HS plus
#                        visual =~ x9), each with ML and MLR, and lavTestLRT() for ML (standard),
#                        MLR with method = "satorra.bentler.2001" and "satorra.bentler.2010"

suppressPackageStartupMessages({
  library(lavaan)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = FALSE)
script_file <- sub("^--file=", "", args[grep("^--file=", args)])
ref_dir <- if (length(script_file) == 1) dirname(normalizePath(script_file)) else "tests/reference"
data_dir <- file.path(ref_dir, "data")
out_file <- file.path(ref_dir, "robust_reference.json")
source(file.path(ref_dir, "helpers.R"))




FIT_NAMES <- c(
  "npar", "chisq", "df", "pvalue", "baseline.chisq", "baseline.df",
  "cfi", "tli", "rmsea", "rmsea.ci.lower", "rmsea.ci.upper",
  "logl", "unrestricted.logl", "aic", "bic", "ntotal",
  "chisq.scaled", "df.scaled", "pvalue.scaled", "chisq.scaling.factor",
  "baseline.chisq.scaled", "baseline.df.scaled", "baseline.pvalue.scaled",
  "baseline.chisq.scaling.factor",
  "cfi.scaled", "tli.scaled", "rmsea.scaled", "rmsea.ci.lower.scaled", "rmsea.ci.upper.scaled",
  "cfi.robust", "tli.robust", "rmsea.robust", "rmsea.ci.lower.robust", "rmsea.ci.upper.robust"
)

fit_record <- function(fit) {
  fm <- fitMeasures(fit)
  keep <- intersect(FIT_NAMES, names(fm))
  as.list(setNames(as.numeric(fm[keep]), keep))
}

estimates_record <- function(fit) {
  pe <- parameterEstimates(fit)
  if (is.null(pe$label)) pe$label <- ""
  out <- as.data.frame(pe[, c("lhs", "op", "rhs", "label", "est", "se", "z", "pvalue")])
  rownames(out) <- NULL
  out
}

test_record <- function(fit) {
  t2 <- fit@test[[2]]
  list(test = t2$test, scaling_factor = t2$scaling.factor, trace_ugamma = t2$trace.UGamma,
       scaling_factor_h1 = t2$scaling.factor.h1, scaling_factor_h0 = t2$scaling.factor.h0)
}

lrt_record <- function(tab) {
  out <- data.frame(model = rownames(tab), df = tab[["Df"]], aic = tab[["AIC"]],
                    bic = tab[["BIC"]], chisq = tab[["Chisq"]], chisq_diff = tab[["Chisq diff"]],
                    df_diff = tab[["Df diff"]], pvalue = tab[["Pr(>Chisq)"]])
  rownames(out) <- NULL
  out
}

cases <- list()

hs <- read.csv(file.path(data_dir, "holzinger39.csv"))
poldem <- read.csv(file.path(data_dir, "political_democracy.csv"))

hs_model <- "
visual  =~ x1 + x2 + x3
textual =~ x4 + x5 + x6
speed   =~ x7 + x8 + x9
"
hs_model_equal <- "
visual  =~ x1 + x2 + x3
textual =~ x4 + a*x5 + a*x6
speed   =~ x7 + x8 + x9
"
hs_model_x9 <- "
visual  =~ x1 + x2 + x3 + x9
textual =~ x4 + x5 + x6
speed   =~ x7 + x8 + x9
"
# semopy.examples.political_democracy.get_model() (as in lavaan_reference.R, without :=)
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

begin_case("hs_mlr")
fit_mlr <- run('cfa(hs_model, data = hs, estimator = "MLR")')
fit_mlr_expected <- run('cfa(hs_model, data = hs, estimator = "MLR", information = "expected")')
fit_mlr_h1 <- run('cfa(hs_model, data = hs, estimator = "MLR", observed.information = "h1")')
opts <- lavInspect(fit_mlr, "options")
cases$hs_mlr <- list(
  calls = .calls, model = hs_model, data = "data/holzinger39.csv",
  options = list(information = opts$information[1],
                 observed_information = opts$observed.information[1],
                 h1_information = opts$h1.information[1], se = opts$se, test = opts$test,
                 meanstructure = opts$meanstructure),
  fit = fit_record(fit_mlr), test = test_record(fit_mlr), estimates = estimates_record(fit_mlr),
  # the two other breads of the sandwich
  expected = list(test = test_record(fit_mlr_expected), estimates = estimates_record(fit_mlr_expected)),
  observed_h1 = list(test = test_record(fit_mlr_h1), estimates = estimates_record(fit_mlr_h1))
)

begin_case("hs_mlr_meanstructure")
fit_mlr_ms <- run('cfa(hs_model, data = hs, estimator = "MLR", meanstructure = TRUE)')
cases$hs_mlr_meanstructure <- list(
  calls = .calls, model = hs_model, data = "data/holzinger39.csv",
  fit = fit_record(fit_mlr_ms), test = test_record(fit_mlr_ms),
  estimates = estimates_record(fit_mlr_ms)
)

begin_case("hs_mlr_configural")
fit_mlr_groups <- run('cfa(hs_model, data = hs, group = "school", estimator = "MLR")')
cases$hs_mlr_configural <- list(
  calls = .calls, model = hs_model, data = "data/holzinger39.csv",
  group_labels = lavInspect(fit_mlr_groups, "group.label"),
  fit = fit_record(fit_mlr_groups), test = test_record(fit_mlr_groups),
  estimates = {
    pe <- parameterEstimates(fit_mlr_groups)
    out <- as.data.frame(pe[, c("lhs", "op", "rhs", "group", "est", "se")])
    rownames(out) <- NULL
    out
  }
)

begin_case("poldem_mlr")
fit_pd_mlr <- run('sem(poldem_model, data = poldem, estimator = "MLR")')
cases$poldem_mlr <- list(
  calls = .calls, model = poldem_model, data = "data/political_democracy.csv",
  fit = fit_record(fit_pd_mlr), test = test_record(fit_pd_mlr),
  estimates = estimates_record(fit_pd_mlr)
)

begin_case("comparison")
ml_equal <- run('cfa(hs_model_equal, data = hs)')
ml_base <- run('cfa(hs_model, data = hs)')
ml_x9 <- run('cfa(hs_model_x9, data = hs)')
mlr_equal <- run('cfa(hs_model_equal, data = hs, estimator = "MLR")')
mlr_base <- run('cfa(hs_model, data = hs, estimator = "MLR")')
mlr_x9 <- run('cfa(hs_model_x9, data = hs, estimator = "MLR")')
names3 <- c("x9", "base", "equal")
lrt_ml <- run('lavTestLRT(ml_x9, ml_base, ml_equal, model.names = names3)')
lrt_sb2001 <- run('lavTestLRT(mlr_x9, mlr_base, mlr_equal, method = "satorra.bentler.2001", model.names = names3)')
lrt_sb2010 <- run('lavTestLRT(mlr_x9, mlr_base, mlr_equal, method = "satorra.bentler.2010", model.names = names3)')
# scaling factor of the less restricted model evaluated at the restricted model's estimates
m10_base_in_x9 <- run('lavaan:::lav_test_diff_m10(mlr_x9, mlr_base, test = TRUE)')
m10_equal_in_base <- run('lavaan:::lav_test_diff_m10(mlr_base, mlr_equal, test = TRUE)')
sb2010_x9_base <- lavaan:::lav_test_diff_SatorraBentler2010(mlr_x9, mlr_base)
sb2010_base_equal <- lavaan:::lav_test_diff_SatorraBentler2010(mlr_base, mlr_equal)
sb2001_x9_base <- lavaan:::lav_test_diff_SatorraBentler2001(mlr_x9, mlr_base)
sb2001_base_equal <- lavaan:::lav_test_diff_SatorraBentler2001(mlr_base, mlr_equal)
cases$comparison <- list(
  calls = .calls, data = "data/holzinger39.csv",
  models = list(equal = hs_model_equal, base = hs_model, x9 = hs_model_x9),
  fit_ml = list(equal = fit_record(ml_equal), base = fit_record(ml_base), x9 = fit_record(ml_x9)),
  fit_mlr = list(equal = fit_record(mlr_equal), base = fit_record(mlr_base),
                 x9 = fit_record(mlr_x9)),
  lrt_ml = lrt_record(lrt_ml),
  lrt_sb2001 = lrt_record(lrt_sb2001),
  lrt_sb2010 = lrt_record(lrt_sb2010),
  m10_scaling_factor = list(
    base_in_x9 = m10_base_in_x9@test[[2]]$scaling.factor,
    equal_in_base = m10_equal_in_base@test[[2]]$scaling.factor),
  difference_scaling_factor = list(
    sb2001 = list(x9_base = sb2001_x9_base$scaling.factor,
                  base_equal = sb2001_base_equal$scaling.factor),
    sb2010 = list(x9_base = sb2010_x9_base$scaling.factor,
                  base_equal = sb2010_base_equal$scaling.factor))
)

record <- list(
  lavaan_version = as.character(packageVersion("lavaan")),
  jsonlite_version = as.character(packageVersion("jsonlite")),
  R_version = R.version.string,
  generated_by = "tests/reference/robust_reference.R",
  cases = cases
)
writeLines(toJSON(record, auto_unbox = TRUE, digits = NA, na = "null", pretty = TRUE,
                  dataframe = "rows", null = "null"), out_file)
cat("\nwrote ", out_file, "\n", sep = "")
