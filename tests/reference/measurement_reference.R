# Reference numbers for analysis/measurement.py (tests/test_measurement.py).
#
# Data: tests/reference/data/hs_measurement.csv = semopy.examples.holzinger39.get_data()
# columns x1..x9 (identical to lavaan::HolzingerSwineford1939, N = 301, no missing values).
# Blocks: visual = x1-x3, textual = x4-x6, speed = x7-x9 (3-factor CFA, ML, marker scaling).
#
# Run from anywhere:  Rscript tests/reference/measurement_reference.R
# Produced with R + lavaan 0.6-14, semTools 0.5-6, psych 2.2.9, jsonlite 1.8.4.
# Writes tests/reference/measurement_reference.json next to this script.

suppressPackageStartupMessages({
  library(lavaan)
  library(semTools)
  library(psych)
  library(jsonlite)
})

script_arg <- grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE)
here <- if (length(script_arg)) dirname(normalizePath(sub("^--file=", "", script_arg))) else "."
hs <- read.csv(file.path(here, "data", "hs_measurement.csv"))

blocks <- list(visual = c("x1", "x2", "x3"),
               textual = c("x4", "x5", "x6"),
               speed = c("x7", "x8", "x9"))
model <- paste(sapply(names(blocks), function(f)
  paste(f, "=~", paste(blocks[[f]], collapse = " + "))), collapse = "\n")

# ---- Cronbach's alpha (psych::alpha raw_alpha) and Feldt CI (psych::alpha()$feldt) ----
alpha_ref <- lapply(blocks, function(items) {
  a <- suppressWarnings(psych::alpha(hs[, items]))
  list(raw_alpha = a$total$raw_alpha,
       feldt_lower = a$feldt$lower.ci[[1]],
       feldt_upper = a$feldt$upper.ci[[1]],
       n = nrow(hs), n_items = length(items))
})

# ---- CFA ----
fit <- cfa(model, data = hs)
est <- parameterEstimates(fit)
std <- standardizedSolution(fit)
loads <- est[est$op == "=~", ]
resid <- est[est$op == "~~" & est$lhs == est$rhs & est$lhs %in% unlist(blocks), ]
lv_var <- est[est$op == "~~" & est$lhs == est$rhs & est$lhs %in% names(blocks), ]
std_loads <- std[std$op == "=~", ]

cfa_ref <- list(
  unstandardized_loadings = lapply(blocks, function(items)
    setNames(as.list(loads$est[match(items, loads$rhs)]), items)),
  residual_variances = lapply(blocks, function(items)
    setNames(as.list(resid$est[match(items, resid$lhs)]), items)),
  factor_variances = setNames(as.list(lv_var$est[match(names(blocks), lv_var$lhs)]),
                              names(blocks)),
  std_loadings = data.frame(construct = std_loads$lhs, item = std_loads$rhs,
                            std_all = std_loads$est.std),
  latent_correlations = unclass(lavInspect(fit, "cor.lv")),
  # lavaan's sample covariance divides by N (ML), not N - 1
  sample_cov_ml = unclass(lavInspect(fit, "sampstat")$cov)
)

# ---- Reliability / validity from semTools ----
omega_obs <- compRelSEM(fit)                   # default obs.var = TRUE
omega_implied <- compRelSEM(fit, obs.var = FALSE)
ave_semtools <- AVE(fit)
# Fornell & Larcker (1981) AVE = mean squared standardized loading; Joreskog's rho_c from
# standardized loadings. semTools has no function taking standardized loadings, so these are
# written out here from lavaan's standardizedSolution() for a formula cross-check.
ave_fl <- sapply(names(blocks), function(f) mean(std_loads$est.std[std_loads$lhs == f]^2))
cr_std <- sapply(names(blocks), function(f) {
  l <- std_loads$est.std[std_loads$lhs == f]
  sum(l)^2 / (sum(l)^2 + sum(1 - l^2))
})

htmt_geometric <- unclass(htmt(model, data = hs))               # semTools default htmt2 = TRUE
htmt_arithmetic <- unclass(htmt(model, data = hs, htmt2 = FALSE))
dimnames(htmt_geometric) <- dimnames(htmt_arithmetic) <- list(names(blocks), names(blocks))

ref <- list(
  meta = list(
    data = "tests/reference/data/hs_measurement.csv",
    blocks = blocks,
    model = model,
    versions = list(R = R.version.string,
                    lavaan = as.character(packageVersion("lavaan")),
                    semTools = as.character(packageVersion("semTools")),
                    psych = as.character(packageVersion("psych"))),
    calls = list(
      alpha = "psych::alpha(hs[, items])$total$raw_alpha; $feldt",
      cfa = "lavaan::cfa(model, data = hs)",
      omega_observed = "semTools::compRelSEM(fit)  # obs.var = TRUE",
      omega_implied = "semTools::compRelSEM(fit, obs.var = FALSE)",
      ave_semtools = "semTools::AVE(fit)  # sum(lambda^2 phi) / sum(observed item variances)",
      htmt_geometric = "semTools::htmt(model, data = hs)  # htmt2 = TRUE default",
      htmt_arithmetic = "semTools::htmt(model, data = hs, htmt2 = FALSE)"
    )
  ),
  alpha = alpha_ref,
  cfa = cfa_ref,
  omega_observed = as.list(omega_obs),
  omega_implied = as.list(omega_implied),
  ave_semtools = as.list(ave_semtools),
  ave_fornell_larcker = as.list(ave_fl),
  composite_reliability_std = as.list(cr_std),
  htmt_geometric = htmt_geometric,
  htmt_arithmetic = htmt_arithmetic,
  fit_chisq = unname(fitMeasures(fit, "chisq"))
)

write_json(ref, file.path(here, "measurement_reference.json"),
           auto_unbox = TRUE, digits = NA, pretty = TRUE, dataframe = "rows",
           matrix = "rowmajor")
cat("wrote", file.path(here, "measurement_reference.json"), "\n")
