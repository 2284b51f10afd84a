# Reference numbers for analysis/careless.py (tests/test_quality.py).
#
# The R package `careless` is not installed here (no Debian package r-cran-careless), so
# this script computes the same quantities from the functions careless itself calls or
# from its published definitions (careless 1.2.x source, read, not copied):
#   - careless::mahad(x)       = psych::outlier(x, plot = FALSE) on rows that are not all NA
#                                (pairwise covariance, full inverse; a missing answer adds
#                                nothing, i.e. it is treated as the column mean);
#   - careless::longstring(x)  = apply(x, 1, function(r) max(rle(r)$lengths))
#                                (rle() never joins NAs, so NA breaks a run);
#   - careless::irv(x)         = apply(x, 1, sd, na.rm = TRUE), and with split = TRUE the sd
#                                within chunks cut(seq_along(row), num.split, labels = FALSE);
#   - careless::evenodd(x, factors, diag = TRUE): per factor, mean of the 1st/3rd/... (odd)
#     and 2nd/4th/... (even) items (na.rm), within-person cor(even, odd,
#     use = "pairwise.complete.obs"), Spearman-Brown 2r / (1 + r) floored at -1, returned
#     negated (higher = more careless); diag = number of factors with both halves present.
#     Re-implemented below from that definition (evenodd_definition); the Python side
#     reports the positive coefficient, i.e. -careless::evenodd.
# Also the "available items" Mahalanobis D^2: for each row, stats::mahalanobis() on its
# observed items with the pairwise covariance sub-matrix of those items.
#
# Run from anywhere:  Rscript tests/reference/careless_reference.R
# Produced with R 4.2.2 + psych 2.2.9, jsonlite 1.8.4.
# Writes tests/reference/careless_reference.json next to this script.

suppressPackageStartupMessages({
  library(psych)
  library(jsonlite)
})

script_arg <- grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE)
here <- if (length(script_arg)) dirname(normalizePath(sub("^--file=", "", script_arg))) else "."

items <- c("A1", "A2", "A3", "B1", "B2", "B3", "C1", "C2")
factors <- c(3, 3, 2)  # scales A, B, C in column order
x <- matrix(c(
  5, 6, 5, 4, 5, 4, 6, 6,
  2, 3, 2, 3, 2, 2, 3, 4,
  4, 4, 4, 4, 4, 4, 4, 4,   # straight-liner
  7, 6, 7, 5, 6, 6, 7, 7,
  3, 3, 4, 2, 3, 3, 2, 3,
  1, 7, 2, 6, 3, 5, 4, 1,   # erratic
  5, 5, 6, 6, 5, 5, 5, 6,
  6, 5, 6, 3, 4, 3, 5, 5,
  2, 2, 1, 2, 1, 2, 1, 1,
  4, 5, 4, 5, 6, 5, 3, 4,
  6, 6, 6, 6, 6, 6, 5, 2,   # long run then break
  3, 4, 3, 4, 4, 5, 4, 4,
  5, 4, 5, 5, 6, 5, 6, 5,
  7, 1, 7, 1, 7, 1, 7, 1,   # alternating
  4, 3, 5, 4, 3, 4, 5, 5
), ncol = length(items), byrow = TRUE, dimnames = list(NULL, items))
# 25 more ordinary respondents (one common factor, 7-point) so that the pairwise
# covariance of the copy with missing answers stays positive definite.
set.seed(20240517)
common <- rnorm(25)
ordinary <- round(4 + 1.2 * common + matrix(rnorm(25 * 8, sd = 0.9), 25, 8))
ordinary[] <- pmin(pmax(ordinary, 1), 7)
x <- rbind(x, ordinary)

x_na <- x
x_na[1, 2] <- NA
x_na[4, c(4, 5)] <- NA
x_na[7, 8] <- NA
x_na[11, 3] <- NA          # breaks the run of 6s
x_na[12, c(1, 3, 5)] <- NA
x_na[15, 7:8] <- NA        # scale C entirely missing
x_na[20, 6] <- NA
x_na[33, c(2, 7)] <- NA

evenodd_definition <- function(x, factors) {
  ends <- cumsum(factors)
  starts <- ends - factors + 1
  t(apply(x, 1, function(row) {
    halves <- t(sapply(seq_along(factors), function(j) {
      s <- row[starts[j]:ends[j]]
      pos <- seq_along(s)
      c(mean(s[pos %% 2 == 0], na.rm = TRUE), mean(s[pos %% 2 == 1], na.rm = TRUE))
    }))
    r <- suppressWarnings(cor(halves[, 1], halves[, 2], use = "pairwise.complete.obs"))
    sb <- (2 * r) / (1 + r)
    if (!is.na(sb) && sb < -1) sb <- -1
    c(r = r, sb = sb, n_pairs = sum(complete.cases(halves)))
  }))
}

mahalanobis_available <- function(x) {
  S <- cov(x, use = "pairwise")
  stopifnot(all(eigen(S, only.values = TRUE)$values > 0))
  m <- colMeans(x, na.rm = TRUE)
  t(apply(x, 1, function(row) {
    obs <- !is.na(row)
    d2 <- stats::mahalanobis(row[obs], m[obs], S[obs, obs, drop = FALSE])
    c(d2 = d2, df = sum(obs), p = pchisq(d2, df = sum(obs), lower.tail = FALSE))
  }))
}

irv_split <- function(x, num_split) {
  chunk <- cut(seq_len(ncol(x)), num_split, labels = FALSE)
  sapply(seq_len(num_split), function(k)
    apply(x[, chunk == k, drop = FALSE], 1, sd, na.rm = TRUE))
}

indices <- function(m) {
  eo <- evenodd_definition(m, factors)
  ma <- mahalanobis_available(m)
  list(
    longstring = apply(m, 1, function(r) max(rle(r)$lengths)),
    irv = apply(m, 1, sd, na.rm = TRUE),
    irv_split3 = irv_split(m, 3),
    irv_chunks3 = cut(seq_len(ncol(m)), 3, labels = FALSE),
    psych_outlier = unname(psych::outlier(m, plot = FALSE)),
    mahalanobis_available_d2 = unname(ma[, "d2"]),
    mahalanobis_available_df = unname(ma[, "df"]),
    mahalanobis_available_p = unname(ma[, "p"]),
    evenodd_r = unname(eo[, "r"]),
    evenodd_sb = unname(eo[, "sb"]),
    evenodd_n_pairs = unname(eo[, "n_pairs"])
  )
}

complete_case <- indices(x)
complete_case$stats_mahalanobis <- unname(stats::mahalanobis(x, colMeans(x), cov(x)))
complete_case$chisq_p <- pchisq(complete_case$stats_mahalanobis, df = ncol(x),
                                lower.tail = FALSE)

out <- list(
  meta = list(
    items = items,
    factors = factors,
    versions = list(R = R.version.string,
                    psych = as.character(packageVersion("psych")),
                    jsonlite = as.character(packageVersion("jsonlite"))),
    calls = list(
      longstring = "apply(x, 1, function(r) max(rle(r)$lengths))  # careless::longstring",
      irv = "apply(x, 1, sd, na.rm = TRUE)  # careless::irv",
      irv_split3 = "sd within cut(seq_len(ncol(x)), 3, labels = FALSE)  # careless::irv(split = TRUE, num.split = 3)",
      psych_outlier = "psych::outlier(x, plot = FALSE)  # careless::mahad",
      stats_mahalanobis = "stats::mahalanobis(x, colMeans(x), cov(x))",
      mahalanobis_available = "per row: stats::mahalanobis(row[obs], colMeans(x, na.rm = TRUE)[obs], cov(x, use = 'pairwise')[obs, obs])",
      evenodd = "evenodd_definition(x, c(3, 3, 2))  # = -careless::evenodd(x, c(3, 3, 2), diag = TRUE)"
    )
  ),
  complete = list(x = x, results = complete_case),
  with_missing = list(x = x_na, results = indices(x_na))
)

writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE, na = "null"),
           file.path(here, "careless_reference.json"))
cat("wrote", file.path(here, "careless_reference.json"), "\n")
