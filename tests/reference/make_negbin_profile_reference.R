# Profile intervals of a negative binomial GLMM from glmmTMB (nbinom2; its Laplace approximation is the one
# bayesmixed uses for NB).  glmmTMB profiles the log sd; the sd interval is its exp (profile intervals follow
# monotone transformations).  Run from the repository root after make_negbin_reference.R:
#   Rscript tests/reference/make_negbin_profile_reference.R
suppressPackageStartupMessages({library(glmmTMB); library(jsonlite)})
sal <- read.csv("tests/reference/salamanders.csv"); sal$site <- factor(sal$site)
fit <- glmmTMB(count ~ mined + (1 | site), data = sal, family = nbinom2)
ci <- rbind(confint(fit, method = "profile", parm = "beta_"), confint(fit, method = "profile", parm = "theta_"))
ref <- list(
  R_version = R.version.string, glmmTMB_version = as.character(packageVersion("glmmTMB")),
  formula = "count ~ mined + (1 | site)", loglik = as.numeric(logLik(fit)), theta_nb = sigma(fit),
  names = rownames(ci), lower = unname(ci[, 1]), upper = unname(ci[, 2])
)
write(toJSON(ref, digits = NA, auto_unbox = TRUE, pretty = TRUE), "tests/reference/negbin_profile_reference.json")
cat("negbin profile done\n")
