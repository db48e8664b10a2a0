# lme4's profile intervals for glmer fits whose profile runs over (θ, β) jointly: a non-canonical link
# (probit) and adaptive Gauss-Hermite quadrature (nAGQ = 9), both on cbpp.
# Run from the repository root:  Rscript tests/reference/make_glmm_profile_stage2_reference.R
suppressPackageStartupMessages({library(lme4); library(jsonlite)})
data(cbpp, package = "lme4")
form <- cbind(incidence, size - incidence) ~ period + (1 | herd)
probit <- glmer(form, data = cbpp, family = binomial(link = "probit"))
agq <- glmer(form, data = cbpp, family = binomial, nAGQ = 9)
ci_list <- function(ci) list(names = rownames(ci), lower = unname(ci[, 1]), upper = unname(ci[, 2]))
ref <- list(
  R_version = R.version.string, lme4_version = as.character(packageVersion("lme4")),
  formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)",
  cbpp_probit = ci_list(confint(probit, method = "profile")),
  cbpp_agq9 = ci_list(confint(agq, method = "profile"))
)
write(toJSON(ref, digits = NA, auto_unbox = TRUE, pretty = TRUE), "tests/reference/glmm_profile_stage2_reference.json")
cat("stage2 profile done\n")
