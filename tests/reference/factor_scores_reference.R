# Reference: regression factor scores of the Holzinger-Swineford CFA (lavaan 0.6).
# Run from the project root: Rscript tests/reference/factor_scores_reference.R
suppressPackageStartupMessages({library(lavaan); library(jsonlite)})
hs <- read.csv("tests/reference/data/holzinger39.csv")
model <- "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"
fit <- cfa(model, data = hs)
scores <- lavPredict(fit, method = "regression")
out <- list(
  call = "lavPredict(cfa(HS.model, data = hs), method = 'regression')",
  lavaan_version = as.character(packageVersion("lavaan")),
  rows = 1:10,
  scores = as.data.frame(scores[1:10, ])
)
writeLines(toJSON(out, digits = 15, pretty = TRUE), "tests/reference/factor_scores_reference.json")
