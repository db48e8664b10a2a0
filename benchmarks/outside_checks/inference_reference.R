# Outside checks of bayesmixed.inference on data sets and model pairs its tests never see.
# Writes the data as CSV and lme4/pbkrtest's answers as JSON into the directory given as the argument:
#   Rscript benchmarks/outside_checks/inference_reference.R /tmp/outside   (then run check_inference.py)
suppressPackageStartupMessages({library(lme4); library(pbkrtest); library(jsonlite); library(nlme, include.only = NULL)})
out_dir <- commandArgs(trailingOnly = TRUE)[1]
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)

orthodont <- as.data.frame(nlme::Orthodont)
orthodont$Subject <- as.character(orthodont$Subject)
orthodont$Sex <- as.character(orthodont$Sex)
chick <- as.data.frame(ChickWeight)
chick$Chick <- as.character(chick$Chick)
chick$Diet <- as.character(chick$Diet)
dyestuff2 <- as.data.frame(Dyestuff2)
cake_data <- as.data.frame(cake)
cake_data$temperature <- as.character(cake_data$temperature)  # unordered: same column space as R's poly contrasts
grouse <- as.data.frame(grouseticks)
grouse$cHEIGHT <- grouse$HEIGHT - mean(grouse$HEIGHT)
data_sets <- list(orthodont = orthodont, chickweight = chick, dyestuff2 = dyestuff2, cake = cake_data,
                  grouseticks = grouse[, c("TICKS", "YEAR", "cHEIGHT", "BROOD", "INDEX", "LOCATION")])
for (name in names(data_sets)) write.csv(data_sets[[name]], file.path(out_dir, paste0(name, ".csv")), row.names = FALSE)

anova_result <- function(small, big) {
  a <- suppressMessages(anova(small, big))
  list(chisq = a$Chisq[2], df = a$Df[2], p = a[["Pr(>Chisq)"]][2], loglik = unname(a$logLik))
}
profile_result <- function(fit) {
  ci <- suppressMessages(confint(fit, method = "profile", oldNames = FALSE))
  list(names = rownames(ci), lower = unname(ci[, 1]), upper = unname(ci[, 2]))
}

checks <- list()
lmm_pairs <- list(
  list(id = "orthodont_sex", data = "orthodont", small = "distance ~ age + (age | Subject)",
       big = "distance ~ age + Sex + (age | Subject)"),
  list(id = "chickweight_slopes", data = "chickweight", small = "weight ~ Time + (1 | Chick)",
       big = "weight ~ Time + (Time | Chick)"),
  list(id = "cake_temperature", data = "cake", small = "angle ~ recipe + (1 | recipe:replicate)",
       big = "angle ~ recipe + temperature + (1 | recipe:replicate)"))
for (pair in lmm_pairs) {
  d <- data_sets[[pair$data]]
  small <- lmer(as.formula(pair$small), d)
  big <- lmer(as.formula(pair$big), d)
  checks[[pair$id]] <- c(pair, list(family = "gaussian", anova = anova_result(small, big), profile = profile_result(big)))
}
dyestuff2_fit <- lmer(Yield ~ 1 + (1 | Batch), dyestuff2)
checks$dyestuff2_singular <- list(id = "dyestuff2_singular", data = "dyestuff2", big = "Yield ~ 1 + (1 | Batch)",
                                  family = "gaussian", profile = profile_result(dyestuff2_fit))
grouse_small <- glmer(TICKS ~ YEAR + (1 | BROOD), grouse, poisson)
grouse_big <- glmer(TICKS ~ YEAR + cHEIGHT + (1 | BROOD), grouse, poisson)
checks$grouseticks_height <- list(id = "grouseticks_height", data = "grouseticks", family = "poisson",
                                  small = "TICKS ~ YEAR + (1 | BROOD)", big = "TICKS ~ YEAR + cHEIGHT + (1 | BROOD)",
                                  anova = anova_result(grouse_small, grouse_big))

# pbkrtest on a pair other than the issue's: Orthodont, random slope of age or not (ML fits, as PBmodcomp refits).
set.seed(1)
orthodont_small <- lmer(distance ~ age + (1 | Subject), orthodont, REML = FALSE)
orthodont_big <- lmer(distance ~ age + (age | Subject), orthodont, REML = FALSE)
seconds <- system.time(pb <- PBmodcomp(orthodont_big, orthodont_small, nsim = 1000))[["elapsed"]]
checks$orthodont_bootstrap <- list(id = "orthodont_bootstrap", data = "orthodont", family = "gaussian",
                                   small = "distance ~ age + (1 | Subject)", big = "distance ~ age + (age | Subject)",
                                   stat = pb$test["LRT", "stat"], p_chisq = pb$test["LRT", "p.value"],
                                   p_pbkrtest = pb$test["PBtest", "p.value"], seconds = seconds, nsim = 1000)
writeLines(toJSON(checks, auto_unbox = TRUE, digits = NA, pretty = TRUE), file.path(out_dir, "reference.json"))
