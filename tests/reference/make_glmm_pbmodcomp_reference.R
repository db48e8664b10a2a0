# pbkrtest's parametric-bootstrap LRT (PBmodcomp) for a GLMM where the p-value is moderate, so that agreement
# within Monte Carlo error means something: cbpp, does herd size add to period?
# Run from the repository root:  Rscript tests/reference/make_glmm_pbmodcomp_reference.R
suppressPackageStartupMessages({library(lme4); library(jsonlite); library(pbkrtest)})
data(cbpp, package = "lme4")
big <- glmer(cbind(incidence, size - incidence) ~ period + size + (1 | herd), data = cbpp, family = binomial)
small <- glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), data = cbpp, family = binomial)
pb <- PBmodcomp(big, small, nsim = 1000, seed = 2)
ref <- list(
  R_version = R.version.string, lme4_version = as.character(packageVersion("lme4")),
  pbkrtest_version = as.character(packageVersion("pbkrtest")),
  big = "cbind(incidence, size - incidence) ~ period + size + (1 | herd)",
  small = "cbind(incidence, size - incidence) ~ period + (1 | herd)",
  nsim = 1000, stat = pb$test["LRT", "stat"], p_chisq = pb$test["LRT", "p.value"],
  p_pb = pb$test["PBtest", "p.value"], n_used = sum(!is.na(pb$ref)), ref_mean = mean(pb$ref, na.rm = TRUE)
)
write(toJSON(ref, digits = NA, auto_unbox = TRUE, pretty = TRUE), "tests/reference/glmm_pbmodcomp_reference.json")
cat("pbmodcomp done\n")
