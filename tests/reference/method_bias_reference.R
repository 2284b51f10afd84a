# Reference numbers for analysis/method_bias.py (tests/test_method_bias.py).
#
# Data: tests/reference/data/holzinger39.csv (semopy's Holzinger-Swineford copy, identical
# to lavaan::HolzingerSwineford1939, N = 301). Blocks: visual = x1-x3, textual = x4-x6,
# speed = x7-x9. `agemo` (month of birth, theoretically unrelated to the abilities) serves
# as the marker variable.
#
# Run from anywhere:  Rscript tests/reference/method_bias_reference.R
# Produced with R 4.2.2, psych 2.2.9, jsonlite 1.8.4 (stats::factanal, stats::lm).
# Writes tests/reference/method_bias_reference.json next to this script.

suppressPackageStartupMessages({
  library(psych)
  library(jsonlite)
})

script_arg <- grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE)
here <- if (length(script_arg)) dirname(normalizePath(sub("^--file=", "", script_arg))) else "."
hs <- read.csv(file.path(here, "data", "holzinger39.csv"))
items <- paste0("x", 1:9)
blocks <- list(visual = c("x1", "x2", "x3"), textual = c("x4", "x5", "x6"),
               speed = c("x7", "x8", "x9"))

# ---- Harman's single factor ----
eig <- eigen(cor(hs[, items]), symmetric = TRUE)$values
pc1 <- principal(hs[, items], nfactors = 1, rotate = "none")
fa1 <- factanal(hs[, items], factors = 1, control = list(opt = list(factr = 10)))
harman <- list(
  eigenvalues = eig,
  pca_share = eig[1] / length(items),
  principal_proportion_var = unname(pc1$Vaccounted["Proportion Var", 1]),
  ml_loadings = setNames(as.list(unclass(fa1$loadings)[, 1]), items),
  ml_uniquenesses = as.list(fa1$uniquenesses),
  ml_share = sum(unclass(fa1$loadings)^2) / length(items)
)

# ---- Full-collinearity VIF on sum scores (Kock 2015) ----
scores <- as.data.frame(lapply(blocks, function(b) rowSums(hs[, b])))
vif <- sapply(names(scores), function(y) {
  others <- setdiff(names(scores), y)
  r2 <- summary(lm(reformulate(others, y), data = scores))$r.squared
  1 / (1 - r2)
})
r2 <- 1 - 1 / vif

# ---- Lindell & Whitney (2001) marker correction ----
lw <- function(r, r_m, n) {
  r_a <- (r - r_m) / (1 - r_m)
  t <- r_a / sqrt((1 - r_a^2) / (n - 3))
  list(r = r, r_m = r_m, n = n, r_adjusted = r_a, t = t, df = n - 3,
       pvalue = 2 * pt(-abs(t), df = n - 3))
}
formula_example <- lw(r = 0.45, r_m = 0.12, n = 150)

marker_scores <- cbind(scores, agemo = hs$agemo)
cm <- cor(marker_scores)
marker_r <- cm["agemo", names(blocks)]
positive <- sort(marker_r[marker_r > 0])
r_m1 <- if (length(positive) >= 1) positive[[1]] else 0
r_m2 <- if (length(positive) >= 2) positive[[2]] else 0
pairs <- combn(names(blocks), 2)
hs_marker <- lapply(list(smallest = r_m1, second_smallest = r_m2), function(r_m)
  lapply(seq_len(ncol(pairs)), function(k) {
    a <- pairs[1, k]; b <- pairs[2, k]
    c(list(construct_a = a, construct_b = b), lw(cm[a, b], r_m, nrow(hs)))
  }))

ref <- list(
  meta = list(
    data = "tests/reference/data/holzinger39.csv",
    blocks = blocks,
    marker = "agemo",
    versions = list(R = R.version.string,
                    psych = as.character(packageVersion("psych")),
                    jsonlite = as.character(packageVersion("jsonlite"))),
    calls = list(
      eigen = "eigen(cor(hs[, items]))$values; share = values[1] / 9",
      principal = "psych::principal(hs[, items], nfactors = 1, rotate = 'none')$Vaccounted['Proportion Var', 1]",
      factanal = "factanal(hs[, items], factors = 1, control = list(opt = list(factr = 10))); share = sum(loadings^2) / 9",
      vif = "1 / (1 - summary(lm(y ~ others, data = sum_scores))$r.squared)",
      lindell_whitney = "r_a = (r - r_m)/(1 - r_m); t = r_a/sqrt((1 - r_a^2)/(n - 3)); p = 2*pt(-|t|, n - 3)",
      marker = "r_m = smallest / second-smallest positive cor(agemo, sum score)"
    )
  ),
  harman = harman,
  vif = list(vif = as.list(vif), r_squared = as.list(r2)),
  lindell_whitney_formula = formula_example,
  hs_marker = list(marker_correlations = as.list(marker_r), r_m_smallest = r_m1,
                   r_m_second_smallest = r_m2, correlation_names = colnames(cm),
                   correlations = unname(cm), adjusted = hs_marker)
)

write_json(ref, file.path(here, "method_bias_reference.json"),
           auto_unbox = TRUE, digits = NA, pretty = TRUE, matrix = "rowmajor")
cat("wrote", file.path(here, "method_bias_reference.json"), "\n")
