# References for GLMM profile intervals (lme4's confint(method = "profile")) and the parametric bootstrap
# LRT (pbkrtest's PBmodcomp).  Run from the repository root, after make_negbin_reference.R (it reads
# grouseticks.csv):  Rscript tests/reference/make_glmm_profile_reference.R
suppressPackageStartupMessages({library(lme4); library(jsonlite); library(pbkrtest)})
out <- "tests/reference"
grouse <- read.csv(file.path(out, "grouseticks.csv"))
grouse$YEAR <- factor(grouse$YEAR); grouse$BROOD <- factor(grouse$BROOD)
data(cbpp, package = "lme4")
cbpp_fit <- glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), data = cbpp, family = binomial)
cbpp_null <- glmer(cbind(incidence, size - incidence) ~ 1 + (1 | herd), data = cbpp, family = binomial)
pois_fit <- glmer(TICKS ~ YEAR + (1 | BROOD), data = grouse, family = poisson)
ci_list <- function(ci) list(names = rownames(ci), lower = unname(ci[, 1]), upper = unname(ci[, 2]))
set.seed(1)
pb <- PBmodcomp(cbpp_fit, cbpp_null, nsim = 1000, seed = 1)
profile_ref <- list(
  R_version = R.version.string, lme4_version = as.character(packageVersion("lme4")),
  pbkrtest_version = as.character(packageVersion("pbkrtest")),
  cbpp = c(list(formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)"),
           ci_list(confint(cbpp_fit, method = "profile"))),
  grouse_poisson = c(list(formula = "TICKS ~ YEAR + (1 | BROOD)", loglik = as.numeric(logLik(pois_fit)),
                          fixef = as.list(fixef(pois_fit))),
                     ci_list(confint(pois_fit, method = "profile"))),
  cbpp_pbmodcomp = list(nsim = 1000, stat = pb$test["LRT", "stat"], p_chisq = pb$test["LRT", "p.value"],
                        p_pb = pb$test["PBtest", "p.value"], n_used = sum(!is.na(pb$ref)))
)
write(toJSON(profile_ref, digits = NA, auto_unbox = TRUE, pretty = TRUE), file.path(out, "glmm_profile_reference.json"))
cat("profile done\n")
